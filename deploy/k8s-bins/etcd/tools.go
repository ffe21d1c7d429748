//go:build tools

// Package tools only keeps the requirement of this module: go mod tidy would drop
// go.etcd.io/etcd/server/v3 without this blank import. The binary is built by
// scripts/k8s-bins.sh; this file is never compiled.
package tools

import _ "go.etcd.io/etcd/server/v3"
