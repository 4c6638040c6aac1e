//go:build tools

// The command this module builds; importing it keeps `go mod tidy` from dropping it.
package tools

import _ "github.com/coredns/coredns"
