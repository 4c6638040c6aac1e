//go:build tools

// Package tools pins the Knative Eventing commands that scripts/cluster/build.sh builds for the
// single-node cluster (deploy/versions.env: KNATIVE_EVENTING_MODULE).
package tools

import (
	_ "knative.dev/eventing/cmd/controller"
	_ "knative.dev/eventing/cmd/jobsink"
	_ "knative.dev/eventing/cmd/mtping"
	_ "knative.dev/eventing/cmd/requestreply"
	_ "knative.dev/eventing/cmd/webhook"
)
