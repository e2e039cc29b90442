package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEShowsThisProgram keeps the README's "Writing your own job" code
// from rotting: each of its blocks marked with the comment
// <!-- source: examples/custom-agent/FILE --> must be that file as it is,
// so the code a reader copies is the code this package compiles and tests.
func TestREADMEShowsThisProgram(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatalf("read the README: %v", err)
	}
	blocks := markedBlocks(string(b))
	for _, file := range []string{"main.go", "usage.go"} {
		path := "examples/custom-agent/" + file
		shown, ok := blocks[path]
		if !ok {
			t.Errorf("the README shows no block marked <!-- source: %s -->", path)
			continue
		}
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if shown != string(src) {
			t.Errorf("the README's block marked %s differs from the file: copy the file into it\n--- README:\n%s\n--- %s:\n%s", path, shown, file, src)
		}
	}
}

// markedBlocks returns, by the path its marker names, the content of each
// fenced code block that follows a line <!-- source: PATH -->.
func markedBlocks(md string) map[string]string {
	const prefix, suffix = "<!-- source: ", " -->"
	out := map[string]string{}
	lines := strings.SplitAfter(md, "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(line, prefix) || !strings.HasSuffix(line, suffix) {
			continue
		}
		path := strings.TrimSuffix(strings.TrimPrefix(line, prefix), suffix)
		if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "```") {
			out[path] = "" // a marker without its block: shown as a difference
			continue
		}
		var body strings.Builder
		for i += 2; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
			body.WriteString(lines[i])
		}
		out[path] = body.String()
	}
	return out
}
