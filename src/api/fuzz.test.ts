// Property-based tests: the parsers of user text return an error for garbage and never throw,
// and formatted ASTs parse back to themselves with the same meaning.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  formatCalicoSelector,
  matchesCalico,
  parseCalicoSelector,
  type CalicoSelector,
} from './calico-selector.js';
import {
  formatLabelSelector,
  matchesLabels,
  parseLabelSelector,
  type LabelRequirement,
} from './label-selector.js';
import { parseNetworksAnnotation } from './networks-annotation.js';
import { parseDocuments } from './documents.js';
import { validateDocuments } from './index.js';

const RUNS = 1000;
// fast-check builds records without a prototype; compare data only.
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
// Strings made of the languages' own characters find more than uniform random text.
const selectorish = fc.stringMatching(/^[a-c !=&|(){}'",./@_inothaslwdgbe0-9:[\]-]{0,40}$/);
const annotationish = fc.oneof(fc.string(), fc.stringMatching(/^[a-z0-9 ,@/._:[\]{}"-]{0,40}$/), fc.json());

function neverThrows<T>(parse: (s: string) => T): (s: string) => void {
  return (s) => {
    parse(s);
  };
}

describe('fuzz', () => {
  test('Calico selector parser never throws', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), selectorish), neverThrows(parseCalicoSelector)), {
      numRuns: RUNS,
    });
  });
  test('label selector parser never throws', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), selectorish), neverThrows(parseLabelSelector)), {
      numRuns: RUNS,
    });
  });
  test('networks annotation parser never throws', () => {
    fc.assert(
      fc.property(
        annotationish,
        neverThrows((s) => parseNetworksAnnotation(s, 'default')),
      ),
      { numRuns: RUNS },
    );
  });
  test('whole-manifest validation never throws on random YAML values', () => {
    const manifest = fc.record({
      apiVersion: fc.constantFrom(
        'v1',
        'projectcalico.org/v3',
        'k8s.cni.cncf.io/v1',
        'crd.projectcalico.org/v1',
        'networking.k8s.io/v1',
      ),
      kind: fc.constantFrom(
        'Pod',
        'Network',
        'NetworkAttachmentDefinition',
        'Service',
        'NetworkPolicy',
        'GlobalNetworkPolicy',
      ),
      metadata: fc.oneof(
        fc.record({ name: fc.string(), annotations: fc.dictionary(fc.string(), fc.anything()) }),
        fc.anything(),
      ),
      spec: fc.anything(),
    });
    fc.assert(
      fc.property(manifest, (m) => {
        const docs = parseDocuments(JSON.stringify(m), 'x.json');
        validateDocuments(docs.documents, docs.issues);
      }),
      { numRuns: 500 },
    );
  });

  const key = fc.stringMatching(/^[a-z][a-z0-9]{0,5}(\/[a-z]{1,3})?$/);
  const val = fc.stringMatching(/^[A-Za-z0-9 _.-]{0,6}$/);
  const leaf: fc.Arbitrary<CalicoSelector> = fc.oneof(
    fc.constant<CalicoSelector>({ op: 'all' }),
    key.map((k): CalicoSelector => ({ op: 'has', key: k })),
    fc.record({
      op: fc.constantFrom('eq', 'ne', 'contains', 'startsWith', 'endsWith' as const),
      key,
      value: val,
    }) as fc.Arbitrary<CalicoSelector>,
    fc.record({
      op: fc.constantFrom('in', 'notIn' as const),
      key,
      values: fc.array(val, { maxLength: 3 }),
    }) as fc.Arbitrary<CalicoSelector>,
  );
  const { tree } = fc.letrec<{ tree: CalicoSelector }>((tie) => ({
    tree: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      tie('tree').map((e): CalicoSelector => ({ op: 'not', expr: e })),
      fc.record({
        op: fc.constantFrom('and', 'or' as const),
        exprs: fc.array(tie('tree'), { minLength: 2, maxLength: 3 }),
      }) as fc.Arbitrary<CalicoSelector>,
    ),
  }));
  const labels = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'a/x'), fc.constantFrom('', 'x', 'y', 'xy'));

  test('Calico selector: format then parse gives the same AST and the same matches', () => {
    fc.assert(
      fc.property(tree, labels, (ast, l) => {
        const r = parseCalicoSelector(formatCalicoSelector(ast));
        assert.ok(r.ok, formatCalicoSelector(ast));
        assert.deepEqual(plain(r.value), plain(ast));
        assert.equal(matchesCalico(r.value, l), matchesCalico(ast, l));
      }),
      { numRuns: 1000 },
    );
  });

  test('label selector: format then parse gives the same requirements', () => {
    const lv = fc.stringMatching(/^([A-Za-z0-9]([A-Za-z0-9_.-]{0,4}[A-Za-z0-9])?)?$/);
    const nonEmpty = fc.stringMatching(/^[A-Za-z0-9]([A-Za-z0-9_.-]{0,4}[A-Za-z0-9])?$/);
    const req: fc.Arbitrary<LabelRequirement> = fc.oneof(
      fc.record({ key, op: fc.constantFrom('exists', 'notExists' as const), values: fc.constant([]) }),
      fc.record({ key, op: fc.constantFrom('eq', 'ne' as const), values: lv.map((v) => [v]) }),
      fc.record({
        key,
        op: fc.constantFrom('in', 'notIn' as const),
        values: fc.uniqueArray(nonEmpty, { minLength: 1, maxLength: 3 }),
      }),
    );
    fc.assert(
      fc.property(fc.array(req, { maxLength: 4 }), (reqs) => {
        const r = parseLabelSelector(formatLabelSelector(reqs));
        assert.ok(r.ok, formatLabelSelector(reqs));
        assert.deepEqual(plain(r.value), plain(reqs));
        assert.equal(matchesLabels(r.value, {}), matchesLabels(reqs, {}));
      }),
      { numRuns: 1000 },
    );
  });
});
