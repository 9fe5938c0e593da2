package traffic

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// headerFormat is a compiled header value of request_headers_to_add / response_headers_to_add:
// literal text and %COMMAND% substitutions (Envoy's substitution formatter; %% is a literal %).
// https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/headers#custom-request-response-headers
type headerFormat struct {
	raw   string
	parts []formatPart
}

type formatPart struct {
	literal string
	// command is set for a %COMMAND(arg):N% substitution; text is the whole of it as written.
	command, arg, text string
	maxLen             int
}

// parseHeaderFormat compiles a header value; it fails as Envoy's parser does on a lone % or an
// unterminated command.
func parseHeaderFormat(s string) (*headerFormat, error) {
	f := &headerFormat{raw: s}
	var lit strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '%' {
			lit.WriteByte(c)
			i++
			continue
		}
		if i+1 < len(s) && s[i+1] == '%' {
			lit.WriteByte('%')
			i += 2
			continue
		}
		// A command: NAME, optional (ARG), optional :N, then %.
		j := i + 1
		for j < len(s) && (s[j] == '_' || ('A' <= s[j] && s[j] <= 'Z') || ('0' <= s[j] && s[j] <= '9')) {
			j++
		}
		if j == i+1 {
			return nil, fmt.Errorf("invalid header value %q: unescaped %% at position %d (write %%%% for a literal %%)", s, i)
		}
		p := formatPart{command: s[i+1 : j]}
		if j < len(s) && s[j] == '(' {
			end := closingParen(s, j)
			if end < 0 {
				return nil, fmt.Errorf("invalid header value %q: unterminated %%%s(...", s, p.command)
			}
			p.arg = s[j+1 : end]
			j = end + 1
		}
		if j < len(s) && s[j] == ':' {
			k := j + 1
			for k < len(s) && '0' <= s[k] && s[k] <= '9' {
				k++
			}
			n, err := strconv.Atoi(s[j+1 : k])
			if err != nil {
				return nil, fmt.Errorf("invalid header value %q: bad length after %%%s:", s, p.command)
			}
			p.maxLen = n
			j = k
		}
		if j >= len(s) || s[j] != '%' {
			return nil, fmt.Errorf("invalid header value %q: unterminated command %%%s", s, p.command)
		}
		p.text = s[i : j+1]
		if lit.Len() > 0 {
			f.parts = append(f.parts, formatPart{literal: lit.String()})
			lit.Reset()
		}
		f.parts = append(f.parts, p)
		i = j + 1
	}
	if lit.Len() > 0 {
		f.parts = append(f.parts, formatPart{literal: lit.String()})
	}
	return f, nil
}

// closingParen finds the ) that closes the ( at open, skipping quoted strings.
func closingParen(s string, open int) int {
	inQuote := false
	for i := open + 1; i < len(s); i++ {
		switch {
		case inQuote && s[i] == '\\':
			i++
		case s[i] == '"':
			inQuote = !inQuote
		case !inQuote && s[i] == ')':
			return i
		}
	}
	return -1
}

// formatContext is what the formatters read.
type formatContext struct {
	req       *Request
	reqH      Headers
	respH     Headers
	routeName string
}

// format evaluates the value. A command proxyctl cannot evaluate at routing time is kept as
// written, and noted.
func (f *headerFormat) format(ctx *formatContext, note func(string)) string {
	if len(f.parts) == 1 && f.parts[0].command == "" {
		return f.parts[0].literal
	}
	var b strings.Builder
	for _, p := range f.parts {
		if p.command == "" {
			b.WriteString(p.literal)
			continue
		}
		v, ok := ctx.command(p)
		if !ok {
			note(fmt.Sprintf("%s is not known at routing time; kept as written", p.text))
			v = p.text
		} else if p.maxLen > 0 && len(v) > p.maxLen {
			v = v[:p.maxLen]
		}
		b.WriteString(v)
	}
	return b.String()
}

func hostPort(ip string, port uint32) string {
	if ip == "" {
		return ""
	}
	return net.JoinHostPort(ip, strconv.FormatUint(uint64(port), 10))
}

func (c *formatContext) command(p formatPart) (string, bool) {
	r := c.req
	switch p.command {
	case "DOWNSTREAM_REMOTE_ADDRESS", "DOWNSTREAM_DIRECT_REMOTE_ADDRESS":
		return hostPort(r.RemoteIP, r.RemotePort), true
	case "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT", "DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT":
		return r.RemoteIP, true
	case "DOWNSTREAM_REMOTE_PORT", "DOWNSTREAM_DIRECT_REMOTE_PORT":
		if r.RemoteIP == "" {
			return "", true
		}
		return strconv.FormatUint(uint64(r.RemotePort), 10), true
	case "DOWNSTREAM_LOCAL_ADDRESS":
		return hostPort(r.LocalIP, r.LocalPort), true
	case "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT":
		return r.LocalIP, true
	case "DOWNSTREAM_LOCAL_PORT":
		if r.LocalIP == "" {
			return "", true
		}
		return strconv.FormatUint(uint64(r.LocalPort), 10), true
	case "PROTOCOL":
		return r.Protocol, true
	case "ROUTE_NAME":
		return c.routeName, true
	case "REQ", "REQUEST_HEADER":
		return headerArg(c.reqH, p.arg), true
	case "RESP", "RESPONSE_HEADER":
		return headerArg(c.respH, p.arg), true
	}
	return "", false
}

// headerArg evaluates REQ(NAME?ALT): the first value of NAME, else of ALT.
func headerArg(h Headers, arg string) string {
	main, alt, _ := strings.Cut(arg, "?")
	if v, ok := h.First(lower(strings.TrimSpace(main))); ok {
		return v
	}
	if alt != "" {
		if v, ok := h.First(lower(strings.TrimSpace(alt))); ok {
			return v
		}
	}
	return ""
}
