// Runs every Knative object of the rendered manifests through the code the pinned releases'
// admission webhooks run on `kubectl apply`: decode (strict where the webhook is strict),
// SetDefaults, then Validate, with the cluster's config maps in the context.
//
// Inputs (set by tests/deploy/test_deploy_upstream_validation.py):
//   - TASKFLOW_MANIFESTS: YAML files, separated by the OS path list separator.
//   - TASKFLOW_KNATIVE_CONFIG: the release's config maps (knative-serving and knative-eventing)
//     with the deploy scripts' patches applied.
//   - TASKFLOW_DRYRUN_PODS (optional): a folder where the Pod of each admitted Service is
//     written, as Serving builds it for its dry run, for validate/kubernetes to check.
//
// Each object is a subtest named file/Kind/name; a failure prints the upstream error verbatim.
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
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	kafkabroker "knative.dev/eventing-kafka-broker/control-plane/pkg/apis/eventing/v1"
	eventingconfig "knative.dev/eventing/pkg/apis/config"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventingv1alpha1 "knative.dev/eventing/pkg/apis/eventing/v1alpha1"
	"knative.dev/eventing/pkg/apis/feature"
	channelconfig "knative.dev/eventing/pkg/apis/messaging/config"
	pingconfig "knative.dev/eventing/pkg/apis/sources/config"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	"knative.dev/pkg/apis"
	knjson "knative.dev/pkg/webhook/json"
	"knative.dev/pkg/webhook/resourcesemantics"
	servingconfig "knative.dev/serving/pkg/apis/config"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"knative.dev/serving/pkg/reconciler/revision/resources"
)

// The namespace `helm upgrade --namespace` and `kubectl apply -n` give objects without one.
const namespace = "taskflow"

// admission is one webhook's view of a kind: a fresh object, whether the webhook decodes
// strictly (eventing: disallowUnknownFields true; serving: false, cmd/webhook/main.go of each),
// and which config-decorated context it validates in.
type admission struct {
	webhook string
	object  func() resourcesemantics.GenericCRD
	strict  bool
	context func(context.Context) context.Context
}

// Knative API groups: an object of these groups with no entry below fails the test, so a new
// kind in the chart cannot slip past unvalidated.
var knativeGroups = []string{"serving.knative.dev", "eventing.knative.dev", "sources.knative.dev", "messaging.knative.dev", "flows.knative.dev", "sinks.knative.dev"}

func admissions(stores *configStores) map[string][]admission {
	serving := stores.serving.ToContext
	eventing := func(ctx context.Context) context.Context {
		return stores.feature.ToContext(stores.channel.ToContext(stores.ping.ToContext(stores.eventing.ToContext(ctx))))
	}
	// eventing-kafka-broker's webhook (control-plane/cmd/webhook-kafka/main.go) defaults and
	// validates Brokers of its class through BrokerStub, in the feature store's context.
	kafka := func(ctx context.Context) context.Context {
		return apis.AllowDifferentNamespace(stores.feature.ToContext(ctx))
	}
	return map[string][]admission{
		"serving.knative.dev/v1/Service": {{
			"serving", func() resourcesemantics.GenericCRD { return &servingv1.Service{} }, false, serving,
		}},
		"eventing.knative.dev/v1/Broker": {
			{"eventing", func() resourcesemantics.GenericCRD { return &eventingv1.Broker{} }, true, eventing},
			{"eventing-kafka-broker", func() resourcesemantics.GenericCRD { return &kafkabroker.BrokerStub{} }, false, kafka},
		},
		"eventing.knative.dev/v1/Trigger": {{
			"eventing", func() resourcesemantics.GenericCRD { return &eventingv1.Trigger{} }, true, eventing,
		}},
		"eventing.knative.dev/v1alpha1/EventPolicy": {{
			"eventing", func() resourcesemantics.GenericCRD { return &eventingv1alpha1.EventPolicy{} }, true, eventing,
		}},
		"sources.knative.dev/v1/PingSource": {{
			"eventing", func() resourcesemantics.GenericCRD { return &sourcesv1.PingSource{} }, true, eventing,
		}},
	}
}

// testLogger lets the config stores report a config map they cannot parse as a test failure
// (their default logger would exit the process on Fatalf).
type testLogger struct{ t *testing.T }

func (l testLogger) Debugf(string, ...interface{})             {}
func (l testLogger) Infof(string, ...interface{})              {}
func (l testLogger) Errorf(format string, args ...interface{}) { l.t.Errorf(format, args...) }
func (l testLogger) Fatalf(format string, args ...interface{}) { l.t.Fatalf(format, args...) }

type configStores struct {
	serving  *servingconfig.Store
	eventing *eventingconfig.Store
	channel  *channelconfig.Store
	ping     *pingconfig.Store
	feature  *feature.Store
}

// loadConfig feeds each config map to the store its webhook watches, keyed by namespace and
// name (both Serving and Eventing have a `config-features`).
func loadConfig(t *testing.T, files []string) *configStores {
	logger := testLogger{t}
	stores := &configStores{
		serving:  servingconfig.NewStore(logger),
		eventing: eventingconfig.NewStore(logger),
		channel:  channelconfig.NewStore(logger),
		ping:     pingconfig.NewStore(logger),
		feature:  feature.NewStore(logger),
	}
	watchers := map[string]func(*corev1.ConfigMap){
		"knative-serving/" + servingconfig.DefaultsConfigName:         stores.serving.OnConfigChanged,
		"knative-serving/" + servingconfig.FeaturesConfigName:         stores.serving.OnConfigChanged,
		"knative-serving/config-autoscaler":                           stores.serving.OnConfigChanged,
		"knative-eventing/" + eventingconfig.DefaultsConfigName:       stores.eventing.OnConfigChanged,
		"knative-eventing/" + channelconfig.ChannelDefaultsConfigName: stores.channel.OnConfigChanged,
		"knative-eventing/" + pingconfig.PingDefaultsConfigName:       stores.ping.OnConfigChanged,
		"knative-eventing/" + feature.FlagsConfigName:                 stores.feature.OnConfigChanged,
	}
	seen := map[string]bool{}
	for _, file := range files {
		for _, doc := range readDocuments(t, file) {
			var configMap corev1.ConfigMap
			if err := yaml.Unmarshal(doc, &configMap); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			key := configMap.Namespace + "/" + configMap.Name
			if watch, ok := watchers[key]; ok && configMap.Kind == "ConfigMap" {
				watch(&configMap)
				seen[key] = true
			}
		}
	}
	for key := range watchers {
		if !seen[key] {
			t.Fatalf("config map %s missing from TASKFLOW_KNATIVE_CONFIG", key)
		}
	}
	return stores
}

func readDocuments(t *testing.T, file string) [][]byte {
	handle, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer handle.Close()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(handle))
	var documents [][]byte
	for {
		document, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return documents
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if strings.TrimSpace(stripComments(string(document))) != "" {
			documents = append(documents, document)
		}
	}
}

func stripComments(document string) string {
	var kept []string
	for _, line := range strings.Split(document, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") && strings.TrimSpace(line) != "---" {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "\n")
}

func pathList(t *testing.T, name string) []string {
	value := os.Getenv(name)
	if value == "" {
		t.Fatalf("%s is not set (tests/deploy/test_deploy_upstream_validation.py sets it)", name)
	}
	return filepath.SplitList(value)
}

type header struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

// admit does what the webhooks' Admit does for a create: decode, SetDefaults in the create
// context of a user, then Validate the defaulted object (the defaulting webhook's patch is
// applied before the validating webhook sees it).
// The webhook answers warning-level findings as admission warnings (kubectl prints them and
// applies the object): they are returned apart from the error.
func admit(ctx context.Context, a admission, document []byte) (object resourcesemantics.GenericCRD, warnings string, err error) {
	object = a.object()
	if err := knjson.Decode(document, object, a.strict); err != nil {
		return nil, "", fmt.Errorf("%s webhook: cannot decode incoming new object: %w", a.webhook, err)
	}
	ctx = apis.WithUserInfo(apis.WithinCreate(a.context(ctx)), &authenticationv1.UserInfo{Username: "taskflow-deployer"})
	object.SetDefaults(ctx)
	if found := object.Validate(ctx); found != nil {
		if warned := found.Filter(apis.WarningLevel); warned != nil {
			warnings = warned.Error()
		}
		if failures := found.Filter(apis.ErrorLevel); failures != nil {
			return object, warnings, fmt.Errorf("%s webhook: %s", a.webhook, failures.Error())
		}
	}
	return object, warnings, nil
}

// writeDryRunPod writes the Pod Serving's webhook would dry-run for this Service
// (pkg/webhook/podspec_dryrun.go validatePodSpec: a Revision from the template, defaulted, its
// user containers in BuildPodSpec), for the API server's validation in validate/kubernetes.
func writeDryRunPod(ctx context.Context, folder, name string, service *servingv1.Service) error {
	meta := metav1.ObjectMeta{GenerateName: "dry-run-validation", Namespace: service.Namespace}
	revision := &servingv1.Revision{ObjectMeta: meta, Spec: service.Spec.Template.Spec}
	revision.SetDefaults(ctx)
	podSpec := resources.BuildPodSpec(revision, resources.BuildUserContainers(revision, nil), nil)
	pod := corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: meta,
		Spec:       *podSpec,
	}
	raw, err := json.Marshal(pod)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(folder, name+".json"), raw, 0o644)
}

func TestKnativeObjectsPassTheReleaseWebhooks(t *testing.T) {
	stores := loadConfig(t, pathList(t, "TASKFLOW_KNATIVE_CONFIG"))
	table := admissions(stores)
	validated := 0
	for _, file := range pathList(t, "TASKFLOW_MANIFESTS") {
		for _, document := range readDocuments(t, file) {
			raw, err := yaml.YAMLToJSON(document)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			var head header
			if err := json.Unmarshal(raw, &head); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			group := strings.SplitN(head.APIVersion, "/", 2)[0]
			key := head.APIVersion + "/" + head.Kind
			kinds, known := table[key]
			if !known {
				for _, knative := range knativeGroups {
					if group == knative {
						t.Errorf("%s: %s %s: no upstream type wired for %s", file, head.Kind, head.Metadata.Name, key)
					}
				}
				continue
			}
			if head.Metadata.Namespace == "" {
				raw, err = setNamespace(raw)
				if err != nil {
					t.Fatal(err)
				}
			}
			name := fmt.Sprintf("%s/%s/%s", filepath.Base(file), head.Kind, head.Metadata.Name)
			for _, a := range kinds {
				t.Run(name+"/"+a.webhook, func(t *testing.T) {
					object, warnings, err := admit(context.Background(), a, raw)
					if warnings != "" {
						t.Logf("%s %s: warning from the %s webhook: %s", head.Kind, head.Metadata.Name, a.webhook, warnings)
					}
					if err != nil {
						t.Errorf("%s %s (%s) rejected by the pinned release:\n%v", head.Kind, head.Metadata.Name, file, err)
						return
					}
					if service, ok := object.(*servingv1.Service); ok && os.Getenv("TASKFLOW_DRYRUN_PODS") != "" {
						ctx := stores.serving.ToContext(apis.WithinCreate(context.Background()))
						podName := strings.ReplaceAll(name, "/", "-")
						if err := writeDryRunPod(ctx, os.Getenv("TASKFLOW_DRYRUN_PODS"), podName, service); err != nil {
							t.Fatal(err)
						}
					}
				})
				validated++
			}
		}
	}
	if validated == 0 {
		t.Fatal("no Knative object in TASKFLOW_MANIFESTS")
	}
	t.Logf("validated %d Knative admissions", validated)
}

func setNamespace(raw []byte) ([]byte, error) {
	var object map[string]interface{}
	if err := json.Unmarshal(raw, &object); err != nil {
		return nil, err
	}
	metadata, _ := object["metadata"].(map[string]interface{})
	if metadata == nil {
		metadata = map[string]interface{}{}
		object["metadata"] = metadata
	}
	metadata["namespace"] = namespace
	return json.Marshal(object)
}
