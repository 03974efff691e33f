//go:build !js

package netcode

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// hexBlock matches a fenced block of docs/protocol.md that quotes a vector:
// "```hex <file>#<vector name>", hex bytes (spaces, "|" and "#" comments allowed), "```".
var hexBlock = regexp.MustCompile("(?m)^```hex ([a-z-]+\\.json)#(.+)$")

// TestProtocolDocVectors checks that every vector docs/protocol.md quotes is byte for
// byte the one in testdata/protocol, and that every worked-example message is quoted.
func TestProtocolDocVectors(t *testing.T) {
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	vectors := map[string]string{} // "file#name" -> hex
	msgs := messageVectors(t)
	for _, m := range msgs.Messages {
		vectors["messages.json#"+m.Name] = m.Hex
	}
	var golden struct {
		Cases []struct {
			Name  string `json:"name"`
			Steps []struct {
				Packet string `json:"packet"`
			} `json:"steps"`
		} `json:"cases"`
	}
	gb, err := os.ReadFile(filepath.Join(vectorDir, "snapshot-golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(gb, &golden); err != nil {
		t.Fatal(err)
	}
	for _, c := range golden.Cases {
		for i, s := range c.Steps {
			vectors[fmt.Sprintf("snapshot-golden.json#%s/%d", c.Name, i)] = s.Packet
		}
	}
	quoted := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(doc))
	var cur string
	var body strings.Builder
	for sc.Scan() {
		line := sc.Text()
		if cur == "" {
			if m := hexBlock.FindStringSubmatch(line); m != nil {
				cur = m[1] + "#" + m[2]
				body.Reset()
			}
			continue
		}
		if line == "```" {
			want, ok := vectors[cur]
			switch {
			case !ok:
				t.Errorf("docs/protocol.md quotes %s, which is not a vector", cur)
			case body.String() != want:
				t.Errorf("docs/protocol.md quotes %s as\n%s\nbut the vector is\n%s", cur, body.String(), want)
			}
			quoted[cur] = true
			cur = ""
			continue
		}
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		body.WriteString(strings.NewReplacer(" ", "", "|", "").Replace(line))
	}
	if cur != "" {
		t.Errorf("unterminated block %s", cur)
	}
	for _, m := range msgs.Messages {
		if k := "messages.json#" + m.Name; strings.HasPrefix(m.Name, "example: ") && !quoted[k] {
			t.Errorf("docs/protocol.md does not quote the worked example's %q", m.Name)
		}
	}
}
