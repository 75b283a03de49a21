// Package onnxtest helps tests check ONNX models with the reference checker of the Python
// onnx package (Debian python3-onnx). Python serves tests only; catdog never needs it.
//
// When no Python with the onnx module is found, the checks are skipped, except under
// CI=true where they fail: CI must install python3-onnx.
package onnxtest

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/internal/fixtures"
)

// Python returns a python3 executable that can import onnx: $CATDOG_PYTHON, then python3 on
// PATH, then /usr/bin/python3. It skips the test (fails it under CI=true) when none can.
func Python(t testing.TB) string {
	t.Helper()
	return PythonWith(t, "onnx", "onnx.checker")
}

// PythonWith is Python for a python3 that can import all the given modules (for example
// "torch"); see fixtures.Python.
func PythonWith(t testing.TB, modules ...string) string {
	t.Helper()
	return fixtures.Python(t, modules...)
}

// checkScript loads the model given as argv[1] and runs the full checker, including shape
// inference in strict mode where this onnx version has it.
const checkScript = `
import sys, onnx, onnx.checker, onnx.shape_inference
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
try:
    onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
except TypeError:
    pass
print("ok")
`

// CheckModel runs onnx.checker.check_model(full_check=True) on the model file at path and
// fails the test with the checker's message when the model is invalid.
func CheckModel(t testing.TB, path string) {
	t.Helper()
	out, err := Run(t, checkScript, path)
	if err != nil {
		t.Fatalf("onnx.checker rejects %s: %v\n%s", path, err, out)
	}
}

// Run runs a Python script (with onnx importable) with the given arguments and returns its
// combined output.
func Run(t testing.TB, script string, args ...string) (string, error) {
	t.Helper()
	return RunWith(t, Python(t), script, args...)
}

// RunWith is Run with a given python3 executable (see PythonWith).
func RunWith(t testing.TB, py, script string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(py, append([]string{"-c", script}, args...)...)
	cmd.Dir = os.TempDir()
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return strings.TrimSpace(buf.String()), err
}
