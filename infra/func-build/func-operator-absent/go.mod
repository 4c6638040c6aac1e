// Stands in for github.com/functions-dev/func-operator, which knative.dev/func v0.50.1 requires
// (v0.2.1) and the Go module proxy does not serve at any version. func imports only its
// api/v1alpha1 types, to keep a func-operator Function resource in step after a deploy, and only
// when the cluster serves that API; this cluster installs no func-operator, so the types here are
// the ones func's code names, written for this build, and are never sent to a cluster.
module github.com/functions-dev/func-operator

go 1.25.0

require (
	k8s.io/api v0.35.7
	k8s.io/apimachinery v0.35.7
	sigs.k8s.io/controller-runtime v0.23.3
)
