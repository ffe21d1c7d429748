// The memif forwarder's own C unit tests (protocol messages, handshake state machine, rings,
// control protocol parsing, IP-mode framing), built with AddressSanitizer and UBSan and run here.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../../src/memif/native/', import.meta.url));
const TESTS = join(SRC, 'test');
const FLAGS = [
  '-std=c11',
  '-D_GNU_SOURCE',
  '-Wall',
  '-Wextra',
  '-Werror',
  '-fsanitize=address,undefined',
  '-g',
];

const haveCc = !spawnSync('cc', ['--version']).error;
const why = haveCc ? false : 'no C compiler (cc) on PATH';

if (why && process.env.CI) {
  test('memif native unit tests', () => {
    throw new Error(`${why}: CI must build and run the memif forwarder's unit tests`);
  });
} else {
  describe('memif native unit tests (ASan + UBSan)', { skip: why }, () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'mn-memif-native-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    // Every source but main.c, so each test binary links what it calls.
    const lib = () =>
      readdirSync(SRC)
        .filter((f) => f.endsWith('.c') && f !== 'main.c')
        .map((f) => join(SRC, f));
    const cases = readdirSync(TESTS).filter((f) => /^test_.*\.c$/.test(f));

    test('there are unit tests', () => assert.ok(cases.length >= 4, cases.join(', ')));

    for (const file of cases) {
      test(file, () => {
        const bin = join(dir, file.replace(/\.c$/, ''));
        const cc = spawnSync('cc', [...FLAGS, '-o', bin, join(TESTS, file), ...lib()], { encoding: 'utf8' });
        assert.equal(cc.status, 0, `cc ${file} failed:\n${cc.stderr}`);
        const run = spawnSync(bin, [], {
          encoding: 'utf8',
          timeout: 60_000,
          env: {
            ...process.env,
            ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0',
            UBSAN_OPTIONS: 'halt_on_error=1',
          },
        });
        assert.equal(run.status, 0, `${file} exited ${run.status ?? run.signal}:\n${run.stderr}`);
      });
    }

    test('the forwarder itself builds warning-free', () => {
      const srcs = readdirSync(SRC)
        .filter((f) => f.endsWith('.c'))
        .map((f) => join(SRC, f));
      const cc = spawnSync('cc', [...FLAGS, '-O2', '-o', join(dir, 'memifd'), ...srcs], { encoding: 'utf8' });
      assert.equal(cc.status, 0, cc.stderr);
      assert.equal(cc.stderr, '', 'no warnings');
    });
  });
}
