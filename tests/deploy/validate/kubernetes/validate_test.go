// Runs the built-in Kubernetes objects of the rendered manifests through the API server's own
// code: decode into the internal version with the API server's defaults (legacyscheme, as a
// create does), then the registry's create strategy (k8s.io/kubernetes/pkg/registry/...):
// PrepareForCreate, Validate (pkg/apis/*/validation) and WarningsOnCreate.
// Also validates the Pods that Knative Serving's webhook dry-runs for each Service
// (knative.dev/serving pkg/webhook/podspec_dryrun.go: a Pod of the Revision's user containers
// is created with dryRun on the API server): tests/deploy/validate/knative writes them to
// TASKFLOW_DRYRUN_PODS, and this test validates them as the API server would.
//
// Inputs: TASKFLOW_MANIFESTS (YAML files, OS path list separator); optional
// TASKFLOW_DRYRUN_PODS (a folder of Pod JSON files).
package validate

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/yaml"

	"k8s.io/kubernetes/pkg/api/legacyscheme"
	_ "k8s.io/kubernetes/pkg/apis/apps/install"
	_ "k8s.io/kubernetes/pkg/apis/batch/install"
	_ "k8s.io/kubernetes/pkg/apis/core/install"
	_ "k8s.io/kubernetes/pkg/apis/rbac/install"
	"k8s.io/kubernetes/pkg/registry/apps/deployment"
	"k8s.io/kubernetes/pkg/registry/apps/statefulset"
	"k8s.io/kubernetes/pkg/registry/batch/job"
	"k8s.io/kubernetes/pkg/registry/core/configmap"
	"k8s.io/kubernetes/pkg/registry/core/pod"
	"k8s.io/kubernetes/pkg/registry/core/secret"
	"k8s.io/kubernetes/pkg/registry/core/service"
	"k8s.io/kubernetes/pkg/registry/core/serviceaccount"
	"k8s.io/kubernetes/pkg/registry/rbac/role"
	"k8s.io/kubernetes/pkg/registry/rbac/rolebinding"
)

const namespace = "taskflow"

// createStrategy is what the API server's registry runs on a create (rest.BeforeCreate):
// PrepareForCreate (e.g. a Job's generated selector), Validate, the object meta checks;
// WarningsOnCreate is what kubectl prints.
type createStrategy interface {
	rest.RESTCreateStrategy
}

// strategies are the registries' create strategies of the built-in kinds the chart renders
// (and Pods, for Knative's dry run). A built-in kind missing here fails the test.
var strategies = map[string]createStrategy{
	"ConfigMap":      configmap.Strategy,
	"Secret":         secret.Strategy,
	"Service":        service.Strategy,
	"ServiceAccount": serviceaccount.Strategy,
	"Pod":            pod.Strategy,
	"StatefulSet":    statefulset.Strategy,
	"Deployment":     deployment.Strategy,
	"Job":            job.Strategy,
	"Role":           role.Strategy,
	"RoleBinding":    rolebinding.Strategy,
}

type document struct {
	source string
	raw    []byte
}

func manifests(t *testing.T) []document {
	value := os.Getenv("TASKFLOW_MANIFESTS")
	if value == "" {
		t.Fatal("TASKFLOW_MANIFESTS is not set (tests/deploy/test_deploy_upstream_validation.py sets it)")
	}
	var documents []document
	for _, file := range filepath.SplitList(value) {
		handle, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		reader := utilyaml.NewYAMLReader(bufio.NewReader(handle))
		for {
			raw, err := reader.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			asJSON, err := yaml.YAMLToJSON(raw)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if string(asJSON) != "null" {
				documents = append(documents, document{filepath.Base(file), asJSON})
			}
		}
		handle.Close()
	}
	if folder := os.Getenv("TASKFLOW_DRYRUN_PODS"); folder != "" {
		pods, err := filepath.Glob(filepath.Join(folder, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, pod := range pods {
			raw, err := os.ReadFile(pod)
			if err != nil {
				t.Fatal(err)
			}
			documents = append(documents, document{"dry-run " + filepath.Base(pod), raw})
		}
	}
	return documents
}

func TestBuiltinObjectsPassTheAPIServersValidation(t *testing.T) {
	// The universal decoder converts to the internal version and applies the registered
	// defaults, as the API server does before validating a create.
	decoder := legacyscheme.Codecs.UniversalDecoder()
	validated := 0
	for _, doc := range manifests(t) {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(doc.raw, &head); err != nil {
			t.Fatalf("%s: %v", doc.source, err)
		}
		gvk := fmt.Sprintf("%s/%s", head.APIVersion, head.Kind)
		if !legacyscheme.Scheme.Recognizes(schema.FromAPIVersionAndKind(head.APIVersion, head.Kind)) {
			continue // a custom resource
		}
		object, _, err := decoder.Decode(doc.raw, nil, nil)
		if err != nil {
			t.Errorf("%s: %s %s: the API server cannot decode it: %v", doc.source, gvk, head.Metadata.Name, err)
			continue
		}
		if accessor, ok := object.(interface {
			GetNamespace() string
			SetNamespace(string)
		}); ok && accessor.GetNamespace() == "" {
			accessor.SetNamespace(namespace)
		}
		strategy, known := strategies[head.Kind]
		if !known {
			t.Errorf("%s: %s %s: no API server strategy wired for %T", doc.source, gvk, head.Metadata.Name, object)
			continue
		}
		ctx := genericapirequest.WithNamespace(context.Background(), namespace)
		// What the generic store does before BeforeCreate: system fields and a generated name.
		meta, err := apimeta.Accessor(object)
		if err != nil {
			t.Fatal(err)
		}
		rest.FillObjectMetaSystemFields(meta)
		if meta.GetName() == "" && meta.GetGenerateName() != "" {
			meta.SetName(names.SimpleNameGenerator.GenerateName(meta.GetGenerateName()))
		}
		validated++
		if err := rest.BeforeCreate(strategy, ctx, object); err != nil {
			t.Errorf("%s: %s %s refused by the API server:\n%v", doc.source, gvk, head.Metadata.Name, err)
		}
		for _, warning := range strategy.WarningsOnCreate(ctx, object) {
			t.Logf("%s: %s %s: API server warning: %s", doc.source, gvk, head.Metadata.Name, warning)
		}
	}
	if validated == 0 {
		t.Fatal("no built-in Kubernetes object in the inputs")
	}
	t.Logf("validated %d built-in objects", validated)
}
