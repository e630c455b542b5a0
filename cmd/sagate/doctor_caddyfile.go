package main

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
)

// caddyToken is one word of a Caddyfile and its line.
type caddyToken struct {
	text string
	line int
}

// caddyEnv matches the environment variables a Caddyfile may name: {$VAR}, {$VAR:default}
// (read when Caddy parses it) and {env.VAR} (a placeholder read at run time).
var caddyEnv = regexp.MustCompile(`\{\$([A-Za-z0-9_]+)(?::([^}]*))?\}|\{env\.([A-Za-z0-9_]+)\}`)

// caddyfileTargets reads the redis URL and signing_keys of every sagate directive in
// the Caddyfile at path, with environment variables replaced through getenv; pairs
// that repeat are returned once. Snippets and imports are not followed.
func caddyfileTargets(path string, getenv func(string) string) ([]doctorTarget, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the Caddyfile: %w", err)
	}
	text := caddyEnv.ReplaceAllStringFunc(string(b), func(m string) string {
		g := caddyEnv.FindStringSubmatch(m)
		if g[3] != "" {
			return getenv(g[3])
		}
		if v := getenv(g[1]); v != "" {
			return v
		}
		return g[2]
	})
	lines := tokenizeCaddyfile(text)
	var out []doctorTarget
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l[0].text != "sagate" {
			continue
		}
		t := doctorTarget{where: fmt.Sprintf("%s:%d", path, l[0].line)}
		for _, a := range l[1:] {
			if strings.Contains(a.text, "://") {
				t.redis = a.text
			}
		}
		if l[len(l)-1].text == "{" {
			for depth := 1; depth > 0 && i+1 < len(lines); {
				i++
				b := lines[i]
				switch {
				case b[0].text == "}":
					depth--
				case b[len(b)-1].text == "{":
					depth++
				case depth == 1 && b[0].text == "redis" && len(b) > 1:
					t.redis = b[1].text
				case depth == 1 && b[0].text == "signing_keys":
					for _, k := range b[1:] {
						t.keys = append(t.keys, k.text)
					}
				}
			}
		}
		if t.redis == "" {
			return nil, fmt.Errorf("%s: the sagate directive has no redis URL", t.where)
		}
		if len(t.keys) == 0 {
			return nil, fmt.Errorf("%s: the sagate directive has no signing_keys", t.where)
		}
		if !slices.ContainsFunc(out, func(o doctorTarget) bool { return o.redis == t.redis && slices.Equal(o.keys, t.keys) }) {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no sagate directive", path)
	}
	return out, nil
}

// tokenizeCaddyfile splits a Caddyfile into lines of words: comments dropped, quoted
// ("…") and backquoted words kept whole, an opening brace at a line's end a word of its
// own. Lines without words are left out.
func tokenizeCaddyfile(text string) [][]caddyToken {
	var (
		lines [][]caddyToken
		cur   []caddyToken
		word  strings.Builder
		inW   bool
		quote rune
		line  = 1
	)
	flushWord := func() {
		if inW {
			cur = append(cur, caddyToken{word.String(), line})
			word.Reset()
			inW = false
		}
	}
	flushLine := func() {
		flushWord()
		if len(cur) > 0 {
			lines = append(lines, cur)
			cur = nil
		}
	}
	rs := []rune(text)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote != 0:
			if r == '\\' && quote == '"' && i+1 < len(rs) && rs[i+1] == '"' {
				word.WriteRune('"')
				i++
				continue
			}
			if r == quote {
				quote = 0
				continue
			}
			if r == '\n' {
				line++
			}
			word.WriteRune(r)
		case r == '\n':
			flushLine()
			line++
		case r == ' ' || r == '\t' || r == '\r':
			flushWord()
		case r == '#' && !inW:
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
			i--
		case (r == '"' || r == '`') && !inW:
			quote, inW = r, true
		default:
			word.WriteRune(r)
			inW = true
		}
	}
	flushLine()
	return lines
}
