//go:build tools

// Package tools only keeps the requirement of this module: go mod tidy would drop
// k8s.io/kubernetes without these blank imports. The binaries are built by
// scripts/k8s-bins.sh; this file is never compiled.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
