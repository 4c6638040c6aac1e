//go:build tools

// Package tools pins the func CLI that scripts/cluster/build.sh builds for the single-node
// cluster (deploy/versions.env: KNATIVE_FUNC_MODULE).
package tools

import _ "knative.dev/func/cmd/func"
