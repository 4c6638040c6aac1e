// Package v1alpha1 names the types knative.dev/func's pkg/operator uses (see ../../go.mod): a
// Function resource with a repository, a registry secret and the function's name in its status.
package v1alpha1

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

// GroupVersion is a group no cluster serves: func looks it up before it touches a Function, and
// finds nothing.
var GroupVersion = schema.GroupVersion{Group: "func-operator.invalid", Version: "v1alpha1"}

var (
	schemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	// AddToScheme adds Function and FunctionList to a scheme.
	AddToScheme = schemeBuilder.AddToScheme
)

func init() { schemeBuilder.Register(&Function{}, &FunctionList{}) }

type Function struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              FunctionSpec   `json:"spec,omitempty"`
	Status            FunctionStatus `json:"status,omitempty"`
}

type FunctionSpec struct {
	Repository FunctionSpecRepository `json:"repository,omitempty"`
	Registry   FunctionSpecRegistry   `json:"registry,omitempty"`
}

type FunctionSpecRepository struct {
	URL    string `json:"url,omitempty"`
	Branch string `json:"branch,omitempty"`
	Path   string `json:"path,omitempty"`
}

type FunctionSpecRegistry struct {
	AuthSecretRef *corev1.LocalObjectReference `json:"authSecretRef,omitempty"`
}

type FunctionStatus struct {
	Name string `json:"name,omitempty"`
}

type FunctionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Function `json:"items"`
}

// DeepCopyObject copies through JSON: these objects are small and never on a hot path.
func (in *Function) DeepCopyObject() runtime.Object { return deepCopy(in, &Function{}) }

func (in *FunctionList) DeepCopyObject() runtime.Object { return deepCopy(in, &FunctionList{}) }

func deepCopy[T runtime.Object](in, out T) runtime.Object {
	data, err := json.Marshal(in)
	if err == nil {
		err = json.Unmarshal(data, out)
	}
	if err != nil {
		panic(err)
	}
	return out
}
