package traffic

import (
	"regexp"
	"strings"
)

// regexReplaceAll replaces every non-overlapping match of re in s with sub, whose \0 to \9
// name capture groups and \\ is a backslash: RE2::GlobalReplace, which Envoy's regex_rewrite,
// host_rewrite_path_regex and redirect regex_rewrite use.
// https://www.envoyproxy.io/docs/envoy/latest/api-v3/type/matcher/v3/regex.proto#type-matcher-v3-regexmatchandsubstitute
func regexReplaceAll(re *regexp.Regexp, s, sub string) string {
	matches := re.FindAllStringSubmatchIndex(s, -1)
	if matches == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range matches {
		b.WriteString(s[last:m[0]])
		expandRE2(&b, sub, s, m)
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

func expandRE2(b *strings.Builder, sub, s string, m []int) {
	for i := 0; i < len(sub); i++ {
		c := sub[i]
		if c != '\\' || i+1 == len(sub) {
			b.WriteByte(c)
			continue
		}
		n := sub[i+1]
		switch {
		case '0' <= n && n <= '9':
			g := int(n - '0')
			if 2*g+1 < len(m) && m[2*g] >= 0 {
				b.WriteString(s[m[2*g]:m[2*g+1]])
			}
			i++
		case n == '\\':
			b.WriteByte('\\')
			i++
		default:
			b.WriteByte(c)
		}
	}
}
