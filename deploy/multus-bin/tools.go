//go:build tools

// Package tools only keeps the requirement of this module: go mod tidy would drop
// gopkg.in/k8snetworkplumbingwg/multus-cni.v4 without this blank import. The binary is built by
// scripts/multus-bin.sh; this file is never compiled.
package tools

import _ "gopkg.in/k8snetworkplumbingwg/multus-cni.v4/cmd/multus"
