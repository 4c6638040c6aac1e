// Runs every Dapr resource of the rendered manifests through the pinned release's own types and
// loading code, as a sidecar in Kubernetes mode meets them:
//   - decode into Dapr's Go types, strictly (a field Dapr has no home for is an error);
//   - Component: the resource-name check of Dapr's loader, the app ids of `scopes`, and the
//     component store daprd fills, which starts with the built-in `kubernetes` secret store
//     (pkg/runtime/runtime.go appendBuiltinSecretStore) and refuses a second component of a
//     name: daprd then exits;
//   - Configuration: config.LoadKubernetesConfiguration, fed by an operator client that answers
//     with the resource (daprd exits when it fails);
//   - Resiliency: Resiliency.DecodeConfiguration (daprd only logs the error and runs without
//     the policy, which is why a test must catch it);
//   - the `dapr.io/app-id` annotations of pod templates: the injector's app-id check.
//
// Input: TASKFLOW_MANIFESTS, YAML files separated by the OS path list separator (set by
// tests/deploy/test_deploy_upstream_validation.py).
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
	"runtime/debug"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	compapi "github.com/dapr/dapr/pkg/apis/components/v1alpha1"
	configapi "github.com/dapr/dapr/pkg/apis/configuration/v1alpha1"
	httpendpointapi "github.com/dapr/dapr/pkg/apis/httpEndpoint/v1alpha1"
	resiliencyapi "github.com/dapr/dapr/pkg/apis/resiliency/v1alpha1"
	subscriptionsv1alpha1 "github.com/dapr/dapr/pkg/apis/subscriptions/v1alpha1"
	subscriptionsv2alpha1 "github.com/dapr/dapr/pkg/apis/subscriptions/v2alpha1"
	"github.com/dapr/dapr/pkg/components"
	"github.com/dapr/dapr/pkg/components/secretstores"
	"github.com/dapr/dapr/pkg/config"
	operatorv1pb "github.com/dapr/dapr/pkg/proto/operator/v1"
	"github.com/dapr/dapr/pkg/resiliency"
	"github.com/dapr/dapr/pkg/runtime/compstore"
	"github.com/dapr/dapr/pkg/validation"
	"github.com/dapr/kit/logger"
)

const namespace = "taskflow"

type document struct {
	file string
	raw  []byte
	head struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   metav1.ObjectMeta `json:"metadata"`
	}
}

func (d document) name() string {
	return fmt.Sprintf("%s/%s/%s", filepath.Base(d.file), d.head.Kind, d.head.Metadata.Name)
}

func readDocuments(t *testing.T) []document {
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
			doc := document{file: file}
			if doc.raw, err = yaml.YAMLToJSON(raw); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if string(doc.raw) == "null" {
				continue
			}
			if err := json.Unmarshal(doc.raw, &doc.head); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			documents = append(documents, doc)
		}
		handle.Close()
	}
	return documents
}

// decodeStrict decodes into Dapr's type and refuses fields the type has no home for.
func decodeStrict(raw []byte, into any) error {
	return yaml.UnmarshalStrict(raw, into)
}

// operator answers daprd's configuration request with the one resource, as the Dapr operator
// does (it sends the resource's JSON).
type operator struct {
	operatorv1pb.OperatorClient
	configuration []byte
}

func (o operator) GetConfiguration(context.Context, *operatorv1pb.GetConfigurationRequest, ...grpc.CallOption) (*operatorv1pb.GetConfigurationResponse, error) {
	return &operatorv1pb.GetConfigurationResponse{Configuration: o.configuration}, nil
}

// builtinKubernetesStore is the component daprd adds before any other in Kubernetes mode.
func builtinKubernetesStore() compapi.Component {
	return compapi.Component{
		ObjectMeta: metav1.ObjectMeta{Name: secretstores.BuiltinKubernetesSecretStore},
		Spec:       compapi.ComponentSpec{Type: "secretstores.kubernetes", Version: components.FirstStableVersion},
	}
}

func checkScopes(scopes []string) error {
	for _, appID := range scopes {
		if err := validation.ValidateKubernetesAppID(appID); err != nil {
			return fmt.Errorf("scopes: %w", err)
		}
	}
	return nil
}

// loadComponent is what a sidecar does with one Component: the loader's name check, then the
// component store (daprd exits on its error).
func loadComponent(store *compstore.ComponentStore, component compapi.Component) error {
	if problems := path.IsValidPathSegmentName(component.Name); len(problems) > 0 {
		return fmt.Errorf("invalid name %q for %q: %s", component.Name, "Component", strings.Join(problems, "; "))
	}
	if err := checkScopes(component.Scopes); err != nil {
		return err
	}
	if err := store.AddPendingComponentForCommit(component); err != nil {
		return err
	}
	return store.CommitPendingComponent()
}

// podTemplateAppIDs: the dapr.io/app-id of a Knative Service's, Deployment's or Job's template.
func podTemplateAppIDs(raw []byte) []string {
	var object struct {
		Spec struct {
			Template struct {
				Metadata metav1.ObjectMeta `json:"metadata"`
			} `json:"template"`
		} `json:"spec"`
	}
	if json.Unmarshal(raw, &object) != nil {
		return nil
	}
	annotations := object.Spec.Template.Metadata.Annotations
	if annotations["dapr.io/enabled"] != "true" {
		return nil
	}
	return []string{annotations["dapr.io/app-id"]}
}

func TestDaprResourcesLoadInTheReleaseSidecar(t *testing.T) {
	store := compstore.New()
	if err := loadComponent(store, builtinKubernetesStore()); err != nil {
		t.Fatal(err)
	}
	loaded := 0
	for _, doc := range readDocuments(t) {
		if doc.head.Metadata.Namespace == "" {
			doc.head.Metadata.Namespace = namespace
		}
		for _, appID := range podTemplateAppIDs(doc.raw) {
			if err := validation.ValidateKubernetesAppID(appID); err != nil {
				t.Errorf("%s: Dapr's injector refuses the pod: %v", doc.name(), err)
			}
		}
		group := strings.SplitN(doc.head.APIVersion, "/", 2)[0]
		if group != "dapr.io" {
			continue
		}
		loaded++
		err := loadResource(store, doc)
		if err != nil {
			t.Errorf("%s (%s) refused by Dapr %s:\n%v", doc.name(), doc.file, daprVersion(), err)
		}
	}
	if loaded == 0 {
		t.Fatal("no dapr.io resource in TASKFLOW_MANIFESTS")
	}
	t.Logf("loaded %d Dapr resources", loaded)
}

// daprVersion is the github.com/dapr/dapr this test was built with (go.mod's pin).
func daprVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, module := range info.Deps {
			if module.Path == "github.com/dapr/dapr" {
				return module.Version
			}
		}
	}
	return "(unknown version)"
}

func loadResource(store *compstore.ComponentStore, doc document) error {
	switch doc.head.APIVersion + "/" + doc.head.Kind {
	case "dapr.io/v1alpha1/Component":
		var component compapi.Component
		if err := decodeStrict(doc.raw, &component); err != nil {
			return err
		}
		return loadComponent(store, component)
	case "dapr.io/v1alpha1/Configuration":
		var configuration configapi.Configuration
		if err := decodeStrict(doc.raw, &configuration); err != nil {
			return err
		}
		_, _, err := config.LoadKubernetesConfiguration(doc.head.Metadata.Name, doc.head.Metadata.Namespace, operator{configuration: doc.raw})
		return err
	case "dapr.io/v1alpha1/Resiliency":
		var policies resiliencyapi.Resiliency
		if err := decodeStrict(doc.raw, &policies); err != nil {
			return err
		}
		return resiliency.New(logger.NewLogger("taskflow.validate")).DecodeConfiguration(&policies)
	case "dapr.io/v1alpha1/HTTPEndpoint":
		var endpoint httpendpointapi.HTTPEndpoint
		if err := decodeStrict(doc.raw, &endpoint); err != nil {
			return err
		}
		return checkScopes(endpoint.Scopes)
	case "dapr.io/v1alpha1/Subscription":
		var subscription subscriptionsv1alpha1.Subscription
		if err := decodeStrict(doc.raw, &subscription); err != nil {
			return err
		}
		return checkScopes(subscription.Scopes)
	case "dapr.io/v2alpha1/Subscription":
		var subscription subscriptionsv2alpha1.Subscription
		if err := decodeStrict(doc.raw, &subscription); err != nil {
			return err
		}
		return checkScopes(subscription.Scopes)
	}
	return fmt.Errorf("no Dapr type wired for %s %s", doc.head.APIVersion, doc.head.Kind)
}
