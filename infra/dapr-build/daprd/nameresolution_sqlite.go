package main

import (
	"github.com/dapr/components-contrib/nameresolution/sqlite"
	nrLoader "github.com/dapr/dapr/pkg/components/nameresolution"
)

// The sqlite resolver is registered only under the allcomponents tag upstream, but it is the one
// resolver that lets several sidecars on one host find each other without mDNS (which CI
// sandboxes and laptops on VPNs often block). Registering it here keeps the binary on the
// smaller, stable component set.
func init() {
	nrLoader.DefaultRegistry.RegisterComponent(sqlite.NewResolver, "sqlite")
}
