// Package validate checks the Kubernetes manifests in deploy/k8s offline, without a
// cluster or kubectl: every document is decoded strictly (unknown or duplicate fields
// are errors) into the typed k8s.io/api objects, then checked against what Volley's
// processes need (probes on /healthz, resources, non-root, selectors that select,
// secrets that exist, flags the commands define, a grace period longer than the drain).
// It is its own Go module so that the main module does not depend on k8s.io.
//
//	cd deploy/validate && go test ./...
//	VOLLEY_BIN=/dir/with/lobby,host,turnserver go test ./...   # also checks the flags
package validate

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

const manifests = "../k8s"

// images maps the images the manifests run to the Dockerfile target and the command
// binary behind each.
var images = map[string]struct{ target, binary string }{
	"volley-lobby":      {"lobby", "lobby"},
	"volley-arena-host": {"host", "host"},
	"volley-turn":       {"turnserver", "turnserver"},
}

type object struct {
	file string
	obj  runtime.Object
}

func load(t *testing.T) []object {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	dec := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	files, err := filepath.Glob(filepath.Join(manifests, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", manifests, err)
	}
	var out []object
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for i := 0; ; i++ {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: document %d: %v", f, i, err)
			}
			if len(bytes.TrimSpace(stripComments(doc))) == 0 {
				continue
			}
			obj, _, err := dec.Decode(doc, nil, nil)
			if err != nil {
				t.Errorf("%s: document %d: %v", f, i, err)
				continue
			}
			out = append(out, object{filepath.Base(f), obj})
		}
	}
	return out
}

func stripComments(doc []byte) []byte {
	var b bytes.Buffer
	for _, l := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.Bytes()
}

// TestManifests decodes every manifest strictly and checks the cross-references.
func TestManifests(t *testing.T) {
	objs := load(t)
	var deploys []*appsv1.Deployment
	secrets := map[string]*corev1.Secret{}
	names := map[string]string{}
	for _, o := range objs {
		m, err := metaOf(o.obj)
		if err != nil {
			t.Fatalf("%s: %v", o.file, err)
		}
		key := o.obj.GetObjectKind().GroupVersionKind().Kind + "/" + m
		if prev, dup := names[key]; dup {
			t.Errorf("%s: %s also defined in %s", o.file, key, prev)
		}
		names[key] = o.file
		for _, msg := range validation.IsDNS1123Subdomain(m) {
			t.Errorf("%s: name %q: %s", o.file, m, msg)
		}
		switch v := o.obj.(type) {
		case *appsv1.Deployment:
			deploys = append(deploys, v)
		case *corev1.Secret:
			secrets[v.Name] = v
		}
	}
	if len(deploys) == 0 {
		t.Fatal("no Deployment")
	}
	for _, o := range objs {
		switch v := o.obj.(type) {
		case *appsv1.Deployment:
			checkDeployment(t, o.file, v, secrets)
		case *corev1.Service:
			d := selected(t, o.file, v.Spec.Selector, deploys)
			for _, p := range v.Spec.Ports {
				if p.TargetPort.StrVal != "" && !hasPort(d, p.TargetPort.StrVal) {
					t.Errorf("%s: Service %s targets port %q, which %s does not name", o.file, v.Name, p.TargetPort.StrVal, d.Name)
				}
			}
		case *policyv1.PodDisruptionBudget:
			if v.Spec.Selector == nil {
				t.Errorf("%s: PDB %s has no selector", o.file, v.Name)
				continue
			}
			selected(t, o.file, v.Spec.Selector.MatchLabels, deploys)
		}
	}
	for _, kind := range []string{"Service/volley-lobby", "PodDisruptionBudget/volley-lobby", "PodDisruptionBudget/volley-arena-host", "Deployment/volley-redis"} {
		if _, ok := names[kind]; !ok {
			t.Errorf("no %s", kind)
		}
	}
}

func metaOf(o runtime.Object) (string, error) {
	switch v := o.(type) {
	case *appsv1.Deployment:
		return v.Name, nil
	case *corev1.Service:
		return v.Name, nil
	case *corev1.Secret:
		return v.Name, nil
	case *policyv1.PodDisruptionBudget:
		return v.Name, nil
	}
	return "", errors.New("unexpected kind " + o.GetObjectKind().GroupVersionKind().Kind)
}

// selected returns the one Deployment whose pods sel selects.
func selected(t *testing.T, file string, sel map[string]string, deploys []*appsv1.Deployment) *appsv1.Deployment {
	t.Helper()
	var found []*appsv1.Deployment
	for _, d := range deploys {
		if len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(d.Spec.Template.Labels)) {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		t.Errorf("%s: selector %v selects %d Deployments, want 1", file, sel, len(found))
		return &appsv1.Deployment{}
	}
	return found[0]
}

func hasPort(d *appsv1.Deployment, name string) bool {
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

var drainFlag = regexp.MustCompile(`^-drain-timeout=(.+)$`)

func checkDeployment(t *testing.T, file string, d *appsv1.Deployment, secrets map[string]*corev1.Secret) {
	spec := d.Spec.Template.Spec
	if d.Spec.Selector == nil || !labels.SelectorFromSet(d.Spec.Selector.MatchLabels).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("%s: %s: the selector does not select the pod template", file, d.Name)
	}
	if sc := spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("%s: %s: pods must run as non-root", file, d.Name)
	}
	for _, c := range spec.Containers {
		where := file + ": " + d.Name + "/" + c.Name
		req, lim := c.Resources.Requests, c.Resources.Limits
		if req.Cpu().IsZero() || req.Memory().IsZero() || lim.Memory().IsZero() {
			t.Errorf("%s: needs CPU and memory requests and a memory limit", where)
		}
		if c.ReadinessProbe == nil || c.LivenessProbe == nil {
			t.Errorf("%s: needs readiness and liveness probes", where)
		}
		image := strings.SplitN(c.Image, ":", 2)[0]
		img, ours := images[image]
		if !ours {
			continue
		}
		if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
			t.Errorf("%s: the readiness probe must GET /healthz", where)
		}
		if p := c.LivenessProbe; p == nil || (p.TCPSocket == nil && (p.HTTPGet == nil || p.HTTPGet.Path != "/healthz")) {
			t.Errorf("%s: the liveness probe must GET /healthz or open the port", where)
		}
		if !dockerTarget(t, img.target) {
			t.Errorf("%s: image %s: the Dockerfile has no target %q", where, c.Image, img.target)
		}
		for _, a := range c.Args {
			if m := drainFlag.FindStringSubmatch(a); m != nil {
				drain, err := time.ParseDuration(m[1])
				if err != nil {
					t.Errorf("%s: %s: %v", where, a, err)
					continue
				}
				grace := time.Duration(30) * time.Second
				if spec.TerminationGracePeriodSeconds != nil {
					grace = time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
				}
				if grace <= drain {
					t.Errorf("%s: terminationGracePeriodSeconds %v must outlast %s", where, grace, a)
				}
			}
		}
		checkFlags(t, where, img.binary, c.Args)
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil && secrets[e.SecretRef.Name] == nil {
				t.Errorf("%s: envFrom secret %q is not defined", where, e.SecretRef.Name)
			}
		}
		for _, e := range c.Env {
			if r := e.ValueFrom; r != nil && r.SecretKeyRef != nil {
				s := secrets[r.SecretKeyRef.Name]
				if _, ok := s.StringData[r.SecretKeyRef.Key]; s == nil || !ok {
					t.Errorf("%s: env %s: secret %s has no key %s", where, e.Name, r.SecretKeyRef.Name, r.SecretKeyRef.Key)
				}
			}
		}
	}
}

func dockerTarget(t *testing.T, target string) bool {
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(`(?m)^FROM \S+ AS ` + regexp.QuoteMeta(target) + `$`).Match(data)
}

// checkFlags checks that every flag in args is one the command defines, when
// VOLLEY_BIN names a directory with the built commands (.ci/run builds them).
func checkFlags(t *testing.T, where, binary string, args []string) {
	dir := os.Getenv("VOLLEY_BIN")
	if dir == "" {
		t.Logf("%s: flags not checked (set VOLLEY_BIN to the built commands' directory)", where)
		return
	}
	out, _ := exec.Command(filepath.Join(dir, binary), "-h").CombinedOutput()
	defined := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllSubmatch(out, -1) {
		defined[string(m[1])] = true
	}
	if len(defined) == 0 {
		t.Errorf("%s: %s -h listed no flags:\n%s", where, binary, out)
		return
	}
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || !defined[name] {
			t.Errorf("%s: argument %q is not a flag of %s", where, a, binary)
		}
	}
}
