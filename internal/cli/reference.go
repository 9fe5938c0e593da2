package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// WriteReference writes the command reference, one Markdown page per command, into dir,
// replacing the pages there.
func WriteReference(dir string) error {
	root := NewRootCommand(Streams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard})
	root.DisableAutoGenTag = true
	old, _ := filepath.Glob(filepath.Join(dir, "proxyctl*.md"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return doc.GenMarkdownTree(withoutHelp(root), dir)
}

// withoutHelp hides cobra's help commands from the reference; completion, with its page per
// shell, stays.
func withoutHelp(root *cobra.Command) *cobra.Command {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var hide func(c *cobra.Command)
	hide = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Name() == "help" {
				sub.Hidden = true
			}
			hide(sub)
		}
	}
	hide(root)
	return root
}
