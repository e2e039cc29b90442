package keys

import "github.com/charmbracelet/bubbles/key"

// Item are the keys every view of runs and rules offers on the run or
// rule in front (under the cursor in a list): describe it, copy its id.
var Item = struct {
	Describe, CopyID key.Binding
}{
	Describe: key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "describe")),
	CopyID:   key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "copy id")),
}
