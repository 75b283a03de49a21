package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/catdog-ml/catdog/classifier"
	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/internal/fixtures"
	"github.com/catdog-ml/catdog/internal/shard"
	"github.com/catdog-ml/catdog/serve"
)

// manifests holds every object of deploy/kubernetes, decoded strictly into the
// Kubernetes API types (an unknown or misspelt field is an error), by file.
type manifests struct {
	jobs        map[string]*batchv1.Job // by file name
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	pdbs        []*policyv1.PodDisruptionBudget
	pvcs        []*corev1.PersistentVolumeClaim
}

func readManifests(t *testing.T) *manifests {
	t.Helper()
	files, err := filepath.Glob("../../deploy/kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/kubernetes (%v)", err)
	}
	m := &manifests{jobs: map[string]*batchv1.Job{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(data, []byte("\n---\n")) {
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s, document %d: %v", f, i+1, err)
			}
			var obj any
			switch tm.APIVersion + " " + tm.Kind {
			case "batch/v1 Job":
				j := &batchv1.Job{}
				m.jobs[filepath.Base(f)], obj = j, j
			case "apps/v1 Deployment":
				d := &appsv1.Deployment{}
				m.deployments, obj = append(m.deployments, d), d
			case "v1 Service":
				s := &corev1.Service{}
				m.services, obj = append(m.services, s), s
			case "autoscaling/v2 HorizontalPodAutoscaler":
				h := &autoscalingv2.HorizontalPodAutoscaler{}
				m.hpas, obj = append(m.hpas, h), h
			case "policy/v1 PodDisruptionBudget":
				p := &policyv1.PodDisruptionBudget{}
				m.pdbs, obj = append(m.pdbs, p), p
			case "v1 PersistentVolumeClaim":
				p := &corev1.PersistentVolumeClaim{}
				m.pvcs, obj = append(m.pvcs, p), p
			default:
				t.Fatalf("%s, document %d: kind %q of %q: not one this test knows", f, i+1, tm.Kind, tm.APIVersion)
			}
			if err := yaml.UnmarshalStrict(doc, obj); err != nil {
				t.Fatalf("%s, document %d (%s): %v", f, i+1, tm.Kind, err)
			}
		}
	}
	return m
}

// catdogContainer returns the pod's one container, named catdog.
func catdogContainer(t *testing.T, what string, spec *corev1.PodSpec) *corev1.Container {
	t.Helper()
	if len(spec.Containers) != 1 || spec.Containers[0].Name != "catdog" {
		t.Fatalf("%s: want one container named catdog", what)
	}
	return &spec.Containers[0]
}

// envValue returns the literal value of the container's variable name ("" if not set so).
func envValue(c *corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// checkThreads checks that a container that sets CATDOG_THREADS takes it from its own
// CPU limit, in whole cores, and that the limit is set.
func checkThreads(t *testing.T, what string, c *corev1.Container) {
	t.Helper()
	for _, e := range c.Env {
		if e.Name != "CATDOG_THREADS" {
			continue
		}
		r := e.ValueFrom
		if r == nil || r.ResourceFieldRef == nil || r.ResourceFieldRef.Resource != "limits.cpu" || r.ResourceFieldRef.Divisor.String() != "1" {
			t.Errorf("%s: CATDOG_THREADS must come from limits.cpu with divisor 1", what)
		}
		if _, ok := c.Resources.Limits[corev1.ResourceCPU]; !ok {
			t.Errorf("%s: CATDOG_THREADS from limits.cpu, but no CPU limit", what)
		}
		return
	}
	t.Errorf("%s: no CATDOG_THREADS: onnxruntime would take every core of the node", what)
}

// TestManifestsServe decodes the serving manifests and checks their cross-references:
// selectors and labels, the Service's port, the autoscaler's and the budget's targets,
// probe paths that catdog serve answers (asked of a real server), the grace period
// against the drain, and that the container's command is one catdog takes.
func TestManifestsServe(t *testing.T) {
	fixtures.RequireORT(t)
	m := readManifests(t)
	if len(m.deployments) != 1 || len(m.services) != 1 || len(m.hpas) != 1 || len(m.pdbs) != 1 {
		t.Fatalf("%d deployments, %d services, %d autoscalers, %d disruption budgets; want one each",
			len(m.deployments), len(m.services), len(m.hpas), len(m.pdbs))
	}
	d := m.deployments[0]
	pods := labels.Set(d.Spec.Template.Labels)
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(pods) {
		t.Errorf("the Deployment's selector %v does not match its pods' labels %v (%v)", d.Spec.Selector, pods, err)
	}
	c := catdogContainer(t, "the Deployment", &d.Spec.Template.Spec)
	checkThreads(t, "the Deployment", c)
	if c.Args[0] != "serve" {
		t.Fatalf("the Deployment runs catdog %s, want serve", c.Args[0])
	}
	// the command parses, and its address's port is the container's
	a := newApp(&bytes.Buffer{}, &bytes.Buffer{})
	root := newRootCmd(a)
	cmd, rest, err := root.Find(c.Args)
	if err != nil || cmd.Name() != "serve" {
		t.Fatalf("catdog %v: %v", c.Args, err)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Fatalf("catdog %v: %v", c.Args, err)
	}
	addr, _ := cmd.Flags().GetString("addr")
	drain, _ := cmd.Flags().GetDuration("drain-delay")
	var http8080 *corev1.ContainerPort
	for i, p := range c.Ports {
		if p.Name == "http" {
			http8080 = &c.Ports[i]
		}
	}
	if http8080 == nil || !strings.HasSuffix(addr, ":"+strconv.Itoa(int(http8080.ContainerPort))) || !strings.HasPrefix(addr, "0.0.0.0:") {
		t.Errorf("serve listens on %q, the container's port is %v: want 0.0.0.0 and the same port", addr, http8080)
	}
	// the grace period outlasts the drain and the shutdown of requests in flight
	if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= drain+serve.ShutdownTimeout {
		t.Errorf("terminationGracePeriodSeconds %v: want more than --drain-delay %v + %v", g, drain, serve.ShutdownTimeout)
	}
	// readiness must see the drain before the listener closes
	if r := c.ReadinessProbe; r == nil || time.Duration(r.PeriodSeconds*r.FailureThreshold)*time.Second > drain {
		t.Errorf("readiness probe %v: its period x failures must fit in --drain-delay %v", r, drain)
	}
	// every probe path is one catdog serve answers 200, and readiness is /healthz, which
	// turns 503 on the drain
	cl, err := classifier.Load(fixtures.BrightnessModel(t, 32))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	srv, err := serve.New(cl, serve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe: want an HTTP GET", name)
			continue
		}
		if p.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe on port %v, want the container's port http", name, p.HTTPGet.Port)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p.HTTPGet.Path, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("%s probe: GET %s answered %d", name, p.HTTPGet.Path, rec.Code)
		}
	}
	// readiness turns 503 on the drain, liveness does not
	ctx, cancel := context.WithCancel(context.Background())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, l) }()
	slow := make(chan struct{})
	go func() { // a request in flight keeps the drain open
		http.Post("http://"+l.Addr().String()+"/v1/predict", "image/png", io.MultiReader(strings.NewReader("\x89PNG"), readerFunc(func([]byte) (int, error) { <-slow; return 0, io.EOF })))
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.ReadinessProbe.HTTPGet.Path, nil))
		if rec.Code >= 400 { // the kubelet counts any status from 400 as a failure
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readiness probe %s still answers %d while draining", c.ReadinessProbe.HTTPGet.Path, rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.LivenessProbe.HTTPGet.Path, nil))
	if rec.Code != http.StatusOK {
		t.Errorf("liveness probe %s answers %d while draining: the pod would be restarted", c.LivenessProbe.HTTPGet.Path, rec.Code)
	}
	close(slow)
	if err := <-served; err != nil {
		t.Errorf("serve: %v", err)
	}
	// the Service reaches these pods on that port
	s := m.services[0]
	if !labels.SelectorFromSet(s.Spec.Selector).Matches(pods) {
		t.Errorf("the Service's selector %v does not match the pods %v", s.Spec.Selector, pods)
	}
	for _, p := range s.Spec.Ports {
		if p.TargetPort.String() != "http" {
			t.Errorf("the Service's port %d targets %v, want the container's http", p.Port, p.TargetPort)
		}
	}
	// the autoscaler scales this Deployment; the budget covers its pods
	if ref := m.hpas[0].Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != d.Name || ref.APIVersion != "apps/v1" {
		t.Errorf("the autoscaler targets %+v, want Deployment %s", ref, d.Name)
	}
	if min := m.hpas[0].Spec.MinReplicas; min == nil || *min < 2 {
		t.Errorf("the autoscaler's minReplicas %v: want 2 or more, so the budget allows a disruption", min)
	}
	psel, err := metav1.LabelSelectorAsSelector(m.pdbs[0].Spec.Selector)
	if err != nil || !psel.Matches(pods) {
		t.Errorf("the disruption budget's selector does not match the pods (%v)", err)
	}
	// the volume it mounts exists
	checkVolumes(t, m, "the Deployment", &d.Spec.Template.Spec)
}

// checkVolumes checks that every volume of the pod is a claim the manifests declare, and
// every mount one of the pod's volumes.
func checkVolumes(t *testing.T, m *manifests, what string, spec *corev1.PodSpec) {
	t.Helper()
	var vols []string
	for _, v := range spec.Volumes {
		vols = append(vols, v.Name)
		if v.PersistentVolumeClaim == nil || !slices.ContainsFunc(m.pvcs, func(p *corev1.PersistentVolumeClaim) bool { return p.Name == v.PersistentVolumeClaim.ClaimName }) {
			t.Errorf("%s: volume %s is not a claim of volumes.yaml", what, v.Name)
		}
	}
	for _, c := range spec.Containers {
		for _, vm := range c.VolumeMounts {
			if !slices.Contains(vols, vm.Name) {
				t.Errorf("%s: mount %s names no volume", what, vm.Name)
			}
		}
	}
}

// podArgs returns the Job's container arguments with the pod's paths (/data, /models)
// mapped to local folders, and the environment each pod gets: the container's literal
// variables, CATDOG_THREADS as its CPU limit, and, for an Indexed Job, the
// JOB_COMPLETION_INDEX Kubernetes sets.
func podArgs(t *testing.T, j *batchv1.Job, data, models string) (args []string, env map[string]string) {
	t.Helper()
	c := catdogContainer(t, j.Name, &j.Spec.Template.Spec)
	for _, a := range c.Args {
		a = strings.ReplaceAll(a, "=/data", "="+data)
		a = strings.ReplaceAll(a, "=/models", "="+models)
		args = append(args, a)
	}
	env = map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
		}
	}
	if _, ok := c.Resources.Limits[corev1.ResourceCPU]; ok && slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "CATDOG_THREADS" }) {
		cpu := c.Resources.Limits[corev1.ResourceCPU]
		env["CATDOG_THREADS"] = strconv.FormatInt(cpu.Value(), 10) // whole cores, rounded up, as divisor 1 gives
	}
	return args, env
}

// runPods runs the Job's pods one after another in this process, each with its
// environment (the index of each, for an Indexed Job), and fails on the first error.
func runPods(t *testing.T, j *batchv1.Job, data, models string) {
	t.Helper()
	args, env := podArgs(t, j, data, models)
	n := 1
	if j.Spec.Completions != nil {
		n = int(*j.Spec.Completions)
	}
	for i := range n {
		for k, v := range env {
			t.Setenv(k, v)
		}
		if j.Spec.CompletionMode != nil && *j.Spec.CompletionMode == batchv1.IndexedCompletion {
			t.Setenv(shard.IndexEnv, strconv.Itoa(i))
		} else {
			unsetenv(t, shard.IndexEnv)
		}
		if _, errOut, err := runCatdog(t, args...); err != nil {
			t.Fatalf("%s, pod %d: catdog %v: %v\n%s", j.Name, i, args, err, errOut)
		}
	}
	for k := range env {
		unsetenv(t, k)
	}
	unsetenv(t, shard.IndexEnv)
}

// unsetenv removes the variable k for the rest of the test (t.Setenv restores it after).
func unsetenv(t *testing.T, k string) {
	t.Setenv(k, "")
	os.Unsetenv(k)
}

// checkIndexedJob checks a sharded Job's shape: Indexed, as many pods at once as shards,
// CATDOG_SHARDS equal to completions, pods that are not restarted in place (a failed
// index is retried as a new pod), and the merge Job's count.
func checkIndexedJob(t *testing.T, j, merge *batchv1.Job) {
	t.Helper()
	if j.Spec.CompletionMode == nil || *j.Spec.CompletionMode != batchv1.IndexedCompletion {
		t.Fatalf("%s: completionMode must be Indexed (each pod gets JOB_COMPLETION_INDEX)", j.Name)
	}
	c := catdogContainer(t, j.Name, &j.Spec.Template.Spec)
	n := envValue(c, shard.CountEnv)
	if j.Spec.Completions == nil || fmt.Sprint(*j.Spec.Completions) != n {
		t.Errorf("%s: %d completions, CATDOG_SHARDS %q: want them equal", j.Name, j.Spec.Completions, n)
	}
	if j.Spec.Parallelism == nil || *j.Spec.Parallelism != *j.Spec.Completions {
		t.Errorf("%s: parallelism %v, want the %d shards at once", j.Name, j.Spec.Parallelism, *j.Spec.Completions)
	}
	if j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever || j.Spec.BackoffLimitPerIndex == nil {
		t.Errorf("%s: want restartPolicy Never and a backoffLimitPerIndex", j.Name)
	}
	checkThreads(t, j.Name, c)
	if mc := catdogContainer(t, merge.Name, &merge.Spec.Template.Spec); envValue(mc, shard.CountEnv) != n || !slices.Contains(mc.Args, "--merge") {
		t.Errorf("%s: want --merge with CATDOG_SHARDS %s", merge.Name, n)
	}
}

// TestManifestsJobs decodes the Jobs, checks them, and runs each Job's pods here with the
// environment each would get (N shards, then the merge Job), against one process with the
// same command: the merged files must be the same bytes.
func TestManifestsJobs(t *testing.T) {
	fixtures.RequireORT(t)
	m := readManifests(t)
	jobs := map[string]*batchv1.Job{}
	for _, f := range []string{"extract-features-job.yaml", "extract-features-merge-job.yaml", "predict-job.yaml", "predict-merge-job.yaml"} {
		j, ok := m.jobs[f]
		if !ok {
			t.Fatalf("no Job in deploy/kubernetes/%s", f)
		}
		jobs[f] = j
		checkVolumes(t, m, j.Name, &j.Spec.Template.Spec)
	}
	checkIndexedJob(t, jobs["extract-features-job.yaml"], jobs["extract-features-merge-job.yaml"])
	checkIndexedJob(t, jobs["predict-job.yaml"], jobs["predict-merge-job.yaml"])

	// the pods' volumes: /data with a prepared dataset (224 px, as MobileNet takes it) and
	// a list of photos; /models with the backbone weights and an exported model
	data, models := t.TempDir(), t.TempDir()
	if _, err := datasets.Prepare(context.Background(), datasets.Options{Data: fixtures.Photos(t, 40), Out: filepath.Join(data, "prepared"), Size: 224, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(fixtures.Model(t, "mobilenet_v1_0.75_224"), filepath.Join(models, "mobilenet_v1_0.75_224")); err != nil {
		t.Fatal(err)
	}
	model, err := os.ReadFile(fixtures.BrightnessModel(t, 32))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(models, "model.onnx"), model, 0o644); err != nil {
		t.Fatal(err)
	}
	photos, _ := filepath.Glob(filepath.Join(fixtures.Shared(t, "dogs-vs-cats-originals"), "*.jpg"))
	slices.Sort(photos)
	// every original photo: 4 chunks of 64 over the 8 shards, so that some shards work,
	// some are empty, and the merge joins several real parts
	if err := os.WriteFile(filepath.Join(data, "list.txt"), []byte(strings.Join(photos, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("extract-features", func(t *testing.T) {
		runPods(t, jobs["extract-features-job.yaml"], data, models)
		runPods(t, jobs["extract-features-merge-job.yaml"], data, models)
		// one process, the same command without shards, elsewhere
		args, env := podArgs(t, jobs["extract-features-job.yaml"], data, models)
		one := filepath.Join(t.TempDir(), "one")
		t.Setenv("CATDOG_THREADS", env["CATDOG_THREADS"])
		if _, errOut, err := runCatdog(t, append(args, "--out="+one)...); err != nil {
			t.Fatalf("one process: %v\n%s", err, errOut)
		}
		for _, split := range datasets.SplitNames() {
			for _, f := range []string{split + "_features.npy", split + "_labels.npy"} {
				sameFile(t, filepath.Join(one, f), filepath.Join(data, "features", "mobilenet-v1-075", f))
			}
		}
	})
	t.Run("predict", func(t *testing.T) {
		runPods(t, jobs["predict-job.yaml"], data, models)
		runPods(t, jobs["predict-merge-job.yaml"], data, models)
		args, env := podArgs(t, jobs["predict-job.yaml"], data, models)
		one := filepath.Join(t.TempDir(), "one.jsonl")
		t.Setenv("CATDOG_THREADS", env["CATDOG_THREADS"])
		if _, errOut, err := runCatdog(t, append(args, "--out="+one)...); err != nil {
			t.Fatalf("one process: %v\n%s", err, errOut)
		}
		sameFile(t, one, filepath.Join(data, "results.jsonl"))
	})
}

// sameFile fails unless the files a and b hold the same bytes.
func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) || len(x) == 0 {
		t.Errorf("%s (%d bytes) and %s (%d bytes) differ", a, len(x), b, len(y))
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
