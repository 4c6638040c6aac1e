//go:build tools

// Package tools pins the command scripts/cluster/build.sh builds: Traefik, the cluster's KIngress.
package tools

import _ "github.com/traefik/traefik/v3/cmd/traefik"
