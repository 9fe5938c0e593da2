package cli

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/util/jsonpath"

	"github.com/proxyctl/proxyctl/formatter"
)

// outputFlag is -o/--output, validated when the flag is parsed, and --no-headers. It is the one
// place output control lives: every command that prints views registers it (addFlag, and
// addTableFlags for views whose short output is a table) and prints through render, which
// gives each format the same meaning everywhere:
//
//   - short, json, yaml: the view's own forms;
//   - jsonpath=TEMPLATE: the template over the -o json value, with kubectl's engine;
//   - name: KIND/NAME lines (cluster/NAME, listener/NAME...), for views that list resources;
//   - --no-headers: the short table without its header line.
//
// A view reads format (JSON while a jsonpath template is being rendered) and writes to the
// writer render installs; tables written there honour --no-headers by themselves.
type outputFlag struct {
	format   formatter.Format
	template *jsonpath.JSONPath // -o jsonpath=TEMPLATE
	// names and table say the view can list names (-o name) and prints a table (--no-headers).
	names, table bool
	noHeaders    bool
	// extra are formats of the command's own, after the common ones (pc diff's diff).
	extra []formatter.Format
}

func newOutputFlag(def formatter.Format) outputFlag { return outputFlag{format: def} }

// offered lists the formats the command takes.
func (o *outputFlag) offered() []formatter.Format {
	var out []formatter.Format
	for _, f := range formatter.Formats {
		if f != formatter.Name || o.names {
			out = append(out, f)
		}
	}
	return append(out, o.extra...)
}

func (o *outputFlag) String() string {
	if o.format == formatter.JSONPath {
		return "jsonpath=TEMPLATE"
	}
	return string(o.format)
}

func (o *outputFlag) Type() string { return "FORMAT" }

func (o *outputFlag) Set(s string) error {
	for _, f := range o.extra {
		if s == string(f) {
			o.format = f
			return nil
		}
	}
	kind, template, hasTemplate := strings.Cut(s, "=")
	f, err := formatter.ParseFormat(kind)
	if err != nil || (f == formatter.Name && !o.names) {
		return fmt.Errorf("unknown output format %q: use one of %s", s, o.formatList())
	}
	switch {
	case f == formatter.JSONPath:
		if !hasTemplate {
			return fmt.Errorf("-o jsonpath needs a template: -o jsonpath='{[*].name}'")
		}
		j, err := formatter.ParseJSONPath(template)
		if err != nil {
			return err
		}
		o.template = j
	case hasTemplate:
		return fmt.Errorf("-o %s takes no template: only jsonpath=TEMPLATE does", kind)
	}
	o.format = f
	return nil
}

// formatList names the formats for messages: "short, json, yaml, name or jsonpath=TEMPLATE".
func (o *outputFlag) formatList() string {
	var names []string
	for _, f := range o.offered() {
		if f == formatter.JSONPath {
			names = append(names, "jsonpath=TEMPLATE")
		} else {
			names = append(names, string(f))
		}
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

var _ pflag.Value = (*outputFlag)(nil)

// addFlag registers -o/--output on cmd, with its completion.
func (o *outputFlag) addFlag(cmd *cobra.Command) {
	cmd.Flags().VarP(o, "output", "o", o.usage())
	_ = cmd.RegisterFlagCompletionFunc("output", func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if strings.HasPrefix(toComplete, "jsonpath=") {
			return nil, cobra.ShellCompDirectiveNoFileComp // the template is the user's
		}
		var values []string
		for _, f := range o.offered() {
			v := string(f)
			if f == formatter.JSONPath {
				v = "jsonpath="
			}
			if strings.HasPrefix(v, toComplete) {
				values = append(values, v)
			}
		}
		directive := cobra.ShellCompDirectiveNoFileComp
		if len(values) == 1 && values[0] == "jsonpath=" {
			directive |= cobra.ShellCompDirectiveNoSpace // the template follows
		}
		return values, directive
	})
}

func (o *outputFlag) usage() string {
	return "output format: " + o.formatList() + " (a kubectl JSONPath template over the -o json value)"
}

// addTableFlags says the command's short output is a table of resources: it takes -o name and
// --no-headers. Call it after addFlag.
func (o *outputFlag) addTableFlags(cmd *cobra.Command) {
	o.names, o.table = true, true
	if f := cmd.Flags().Lookup("output"); f != nil {
		f.Usage = o.usage()
	}
	cmd.Flags().BoolVar(&o.noHeaders, "no-headers", false, "print the table without its header line")
}

// check refuses --no-headers with a format that prints no table.
func (o *outputFlag) check() error {
	if o.noHeaders && o.format != formatter.Short {
		return usageErrorf("--no-headers applies to the table (-o short), not to -o %s", o.String())
	}
	return nil
}

// render runs write, which prints a view to *out in o.format, so that each format means the
// same on every command: for jsonpath, write prints -o json into a buffer and the template is
// applied to it; for short, *out carries --no-headers to the table writers.
func (o *outputFlag) render(out *io.Writer, write func() error) error {
	if err := o.check(); err != nil {
		return err
	}
	w := *out
	defer func() { *out = w }()
	switch o.format {
	case formatter.JSONPath:
		var buf bytes.Buffer
		*out = &buf
		o.format = formatter.JSON
		err := write()
		o.format = formatter.JSONPath
		if err != nil {
			return err
		}
		return formatter.WriteJSONPath(w, buf.Bytes(), o.template)
	case formatter.Short:
		*out = formatter.WithTableOptions(w, formatter.TableOptions{NoHeaders: o.noHeaders})
	}
	return write()
}
