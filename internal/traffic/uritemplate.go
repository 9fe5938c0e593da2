package traffic

import (
	"fmt"
	"regexp"
	"strings"
)

// URI templates: route.match.path_match_policy with envoy.path.match.uri_template and
// route.route.path_rewrite_policy with envoy.path.rewrite.uri_template, as Envoy's
// source/extensions/path/uri_template_lib converts them to RE2.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/path/match/uri_template/v3/uri_template_match.proto

// uriLiteral is the RFC 3986 pchar set the templates allow (uri_template_internal.cc kLiteral).
const uriLiteral = `a-zA-Z0-9-._~%!$&'()+,;:@`

var (
	uriLiteralRx        = regexp.MustCompile(`^[` + uriLiteral + `]+$`)
	uriRewriteLiteralRx = regexp.MustCompile(`^[` + uriLiteral + `/]+$`)
	uriVariableNameRx   = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]*$`)
	uriPrintableRx      = regexp.MustCompile(`^/[[:graph:]]*$`)
)

const (
	uriPathGlob = `[` + uriLiteral + `]+`  // *
	uriTextGlob = `[` + uriLiteral + `/]*` // **
)

// uriTemplate is a compiled path template.
type uriTemplate struct {
	template string
	re       *regexp.Regexp
}

func escapeURILiteral(s string) string {
	return strings.NewReplacer("$", `\$`, "(", `\(`, ")", `\)`, "+", `\+`, ".", `\.`).Replace(s)
}

// templateRegex converts a path template to a regex, validating it as Envoy's
// parseURLPatternSyntax does.
func templateRegex(tmpl string) (string, error) {
	if !uriPrintableRx.MatchString(tmpl) {
		return "", fmt.Errorf("path template %q: must start with / and hold printable characters only", tmpl)
	}
	bad := func(why string) (string, error) { return "", fmt.Errorf("path template %q: %s", tmpl, why) }
	rest := tmpl[1:]
	var segs []string
	suffix := ""
	vars := map[string]bool{}
	seenTextGlob := false
	glob := func(op string) (string, error) {
		if seenTextGlob {
			return "", fmt.Errorf("path template %q: glob after text glob", tmpl)
		}
		seenTextGlob = op == "**"
		if op == "**" {
			return uriTextGlob, nil
		}
		return uriPathGlob, nil
	}
	literal := func(s string) (lit, unconsumed string, err error) {
		lit, _, _ = strings.Cut(s, "/")
		if !uriLiteralRx.MatchString(lit) {
			return "", "", fmt.Errorf("path template %q: invalid literal %q", tmpl, lit)
		}
		return lit, s[len(lit):], nil
	}
	for rest != "" {
		var seg string
		switch {
		case strings.HasPrefix(rest, "**"):
			r, err := glob("**")
			if err != nil {
				return "", err
			}
			seg, rest = r, rest[2:]
		case rest[0] == '*':
			r, err := glob("*")
			if err != nil {
				return "", err
			}
			seg, rest = r, rest[1:]
		case rest[0] == '{':
			body, after, ok := strings.Cut(rest[1:], "}")
			if !ok {
				return bad("unmatched variable bracket")
			}
			name, match, hasMatch := strings.Cut(body, "=")
			if !uriVariableNameRx.MatchString(name) || len(name) > 16 {
				return bad(fmt.Sprintf("invalid variable name %q", name))
			}
			if vars[name] {
				return bad(fmt.Sprintf("repeated variable name %q", name))
			}
			vars[name] = true
			if len(vars) > 5 {
				return bad("more than 5 variables")
			}
			var parts []string
			if !hasMatch {
				r, err := glob("*")
				if err != nil {
					return "", fmt.Errorf("path template %q: implicit variable path glob after text glob", tmpl)
				}
				parts = append(parts, r)
			} else {
				if match == "" {
					return bad("empty variable match")
				}
				for match != "" {
					switch {
					case strings.HasPrefix(match, "**"):
						r, err := glob("**")
						if err != nil {
							return "", err
						}
						parts, match = append(parts, r), match[2:]
					case match[0] == '*':
						r, err := glob("*")
						if err != nil {
							return "", err
						}
						parts, match = append(parts, r), match[1:]
					default:
						lit, un, err := literal(match)
						if err != nil {
							return "", err
						}
						parts, match = append(parts, escapeURILiteral(lit)), un
					}
					if match != "" {
						if match[0] != '/' || len(match) == 1 {
							return bad("invalid variable match")
						}
						match = match[1:]
					}
				}
			}
			seg = "(?P<" + name + ">" + strings.Join(parts, "/") + ")"
			rest = after
		default:
			lit, un, err := literal(rest)
			if err != nil {
				return "", err
			}
			seg, rest = escapeURILiteral(lit), un
		}
		segs = append(segs, seg)
		if rest == "" {
			break
		}
		if rest == "/" {
			segs = append(segs, "")
			break
		}
		if rest[0] == '/' {
			rest = rest[1:]
			continue
		}
		lit, un, err := literal(rest)
		if err != nil {
			return "", err
		}
		if un != "" {
			return bad("prefix match not supported")
		}
		suffix = escapeURILiteral(lit)
		break
	}
	return "/" + strings.Join(segs, "/") + suffix, nil
}

func newURITemplate(tmpl string) (*uriTemplate, error) {
	rx, err := templateRegex(tmpl)
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(`^(?:` + rx + `)$`)
	if err != nil {
		return nil, fmt.Errorf("path template %q: %w", tmpl, err)
	}
	return &uriTemplate{template: tmpl, re: re}, nil
}

func (t *uriTemplate) match(path string) bool { return t.re.MatchString(removeQueryAndFragment(path)) }

// uriRewrite is a compiled path_template_rewrite: literals and variables of the match template.
type uriRewrite struct {
	template string
	segs     []uriRewriteSeg
}

type uriRewriteSeg struct {
	literal string
	name    string // a variable of the match template
}

// newURIRewrite compiles a rewrite against the match template it rewrites (Envoy requires the
// route to match with a uri_template matcher).
func newURIRewrite(rewrite string, match *uriTemplate) (*uriRewrite, error) {
	if match == nil {
		return nil, fmt.Errorf("path_template_rewrite %q needs a path_match_policy with a uri_template matcher", rewrite)
	}
	names := map[string]bool{}
	for _, n := range match.re.SubexpNames() {
		if n != "" {
			names[n] = true
		}
	}
	rw := &uriRewrite{template: rewrite}
	p := rewrite
	for p != "" {
		lit, after, hasVar := strings.Cut(p, "{")
		if lit != "" {
			if !uriRewriteLiteralRx.MatchString(lit) {
				return nil, fmt.Errorf("path_template_rewrite %q: invalid literal %q", rewrite, lit)
			}
			rw.segs = append(rw.segs, uriRewriteSeg{literal: lit})
		}
		if !hasVar {
			break
		}
		name, rest, ok := strings.Cut(after, "}")
		if !ok {
			return nil, fmt.Errorf("path_template_rewrite %q: unmatched variable bracket", rewrite)
		}
		if !names[name] {
			return nil, fmt.Errorf("path_template_rewrite %q: variable %q is not in the match template %q", rewrite, name, match.template)
		}
		rw.segs = append(rw.segs, uriRewriteSeg{name: name})
		p = rest
	}
	return rw, nil
}

// rewrite returns the new path (without the query), or false when the template does not
// match (Envoy then keeps the path).
func (rw *uriRewrite) rewrite(justPath string, match *uriTemplate) (string, bool) {
	m := match.re.FindStringSubmatch(justPath)
	if m == nil {
		return "", false
	}
	var b strings.Builder
	for _, s := range rw.segs {
		if s.name == "" {
			b.WriteString(s.literal)
			continue
		}
		b.WriteString(m[match.re.SubexpIndex(s.name)])
	}
	return b.String(), true
}

// removeQueryAndFragment cuts a path at its first ? or # (Http::PathUtil).
func removeQueryAndFragment(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		return p[:i]
	}
	return p
}
