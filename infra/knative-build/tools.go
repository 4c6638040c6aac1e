//go:build tools

// Package tools pins the Knative Serving commands that scripts/cluster/build.sh builds for the
// single-node cluster: the release of deploy/versions.env (KNATIVE_SERVING_MODULE).
package tools

import (
	_ "knative.dev/serving/cmd/activator"
	_ "knative.dev/serving/cmd/autoscaler"
	_ "knative.dev/serving/cmd/controller"
	_ "knative.dev/serving/cmd/queue"
	_ "knative.dev/serving/cmd/webhook"
)
