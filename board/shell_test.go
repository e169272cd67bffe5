package board

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestConsoleShell(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("needs sh")
	}
	in := strings.NewReader("echo a b; echo c\n\nexit 3\necho 'after'\r\n")
	var out bytes.Buffer
	if err := ConsoleShell(context.Background(), in, &out, sh); err != nil {
		t.Fatal(err)
	}
	want := "# a b\nc\n# # " + sh + ": exit status 3\n# after\n# "
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("console (-want +got):\n%s", diff)
	}
}
