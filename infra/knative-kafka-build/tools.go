//go:build tools

// Package tools pins the Kafka broker's control-plane commands that scripts/cluster/build.sh
// builds for the single-node cluster (deploy/versions.env: KNATIVE_KAFKA_MODULE).
package tools

import (
	_ "knative.dev/eventing-kafka-broker/control-plane/cmd/kafka-controller"
	_ "knative.dev/eventing-kafka-broker/control-plane/cmd/webhook-kafka"
)
