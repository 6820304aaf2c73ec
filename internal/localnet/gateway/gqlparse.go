package gateway

import (
	"fmt"
	"strconv"
	"strings"
)

// This file parses the GraphQL executable-document subset the gateway
// answers: operations (query only) with variable definitions, fields with
// aliases, arguments and directives, fragment spreads, inline fragments and
// fragment definitions; values of every literal kind.

type gqlError struct {
	msg string
}

func (e *gqlError) Error() string { return e.msg }

func gqlErrorf(format string, args ...any) error { return &gqlError{msg: fmt.Sprintf(format, args...)} }

type tokKind int

const (
	tokEOF tokKind = iota
	tokPunct
	tokName
	tokInt
	tokFloat
	tokString
)

type token struct {
	kind tokKind
	text string // punctuator, name, number text or the decoded string
	pos  int
}

type lexer struct {
	src  string
	pos  int
	line int
	col0 int // offset of the current line start
}

func (l *lexer) where(pos int) string {
	line, col := 1, 1
	for i := 0; i < pos && i < len(l.src); i++ {
		if l.src[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("line %d, column %d", line, col)
}

func (l *lexer) next() (token, error) {
	// Skip ignored tokens: whitespace, commas, comments, BOM.
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',':
			l.pos++
		case c == '#':
			for l.pos < len(l.src) && l.src[l.pos] != '\n' && l.src[l.pos] != '\r' {
				l.pos++
			}
		case strings.HasPrefix(l.src[l.pos:], "\uFEFF"):
			l.pos += 3
		default:
			goto lex
		}
	}
	return token{kind: tokEOF, pos: l.pos}, nil
lex:
	start := l.pos
	c := l.src[l.pos]
	switch {
	case strings.IndexByte("!$&()=:@[]{}|", c) >= 0:
		l.pos++
		return token{kind: tokPunct, text: string(c), pos: start}, nil
	case c == '.':
		if strings.HasPrefix(l.src[l.pos:], "...") {
			l.pos += 3
			return token{kind: tokPunct, text: "...", pos: start}, nil
		}
		return token{}, gqlErrorf("Syntax Error: unexpected \".\" at %s", l.where(start))
	case c == '_' || isLetter(c):
		for l.pos < len(l.src) && (l.src[l.pos] == '_' || isLetter(l.src[l.pos]) || isDigit(l.src[l.pos])) {
			l.pos++
		}
		return token{kind: tokName, text: l.src[start:l.pos], pos: start}, nil
	case c == '-' || isDigit(c):
		return l.number()
	case c == '"':
		if strings.HasPrefix(l.src[l.pos:], `"""`) {
			return l.blockString()
		}
		return l.str()
	}
	return token{}, gqlErrorf("Syntax Error: unexpected character %q at %s", c, l.where(start))
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

func (l *lexer) number() (token, error) {
	start := l.pos
	if l.src[l.pos] == '-' {
		l.pos++
	}
	digits := func() int {
		n := 0
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
			n++
		}
		return n
	}
	if digits() == 0 {
		return token{}, gqlErrorf("Syntax Error: invalid number at %s", l.where(start))
	}
	kind := tokInt
	if l.pos < len(l.src) && l.src[l.pos] == '.' {
		l.pos++
		kind = tokFloat
		if digits() == 0 {
			return token{}, gqlErrorf("Syntax Error: invalid number at %s", l.where(start))
		}
	}
	if l.pos < len(l.src) && (l.src[l.pos] == 'e' || l.src[l.pos] == 'E') {
		l.pos++
		kind = tokFloat
		if l.pos < len(l.src) && (l.src[l.pos] == '+' || l.src[l.pos] == '-') {
			l.pos++
		}
		if digits() == 0 {
			return token{}, gqlErrorf("Syntax Error: invalid number at %s", l.where(start))
		}
	}
	if l.pos < len(l.src) && (l.src[l.pos] == '_' || l.src[l.pos] == '.' || isLetter(l.src[l.pos])) {
		return token{}, gqlErrorf("Syntax Error: invalid number at %s", l.where(start))
	}
	return token{kind: kind, text: l.src[start:l.pos], pos: start}, nil
}

func (l *lexer) str() (token, error) {
	start := l.pos
	l.pos++
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '"':
			l.pos++
			return token{kind: tokString, text: b.String(), pos: start}, nil
		case c == '\n' || c == '\r':
			return token{}, gqlErrorf("Syntax Error: unterminated string at %s", l.where(start))
		case c == '\\':
			if l.pos+1 >= len(l.src) {
				return token{}, gqlErrorf("Syntax Error: unterminated string at %s", l.where(start))
			}
			e := l.src[l.pos+1]
			l.pos += 2
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				if l.pos+4 > len(l.src) {
					return token{}, gqlErrorf("Syntax Error: invalid unicode escape at %s", l.where(l.pos))
				}
				n, err := strconv.ParseUint(l.src[l.pos:l.pos+4], 16, 32)
				if err != nil {
					return token{}, gqlErrorf("Syntax Error: invalid unicode escape at %s", l.where(l.pos))
				}
				b.WriteRune(rune(n))
				l.pos += 4
			default:
				return token{}, gqlErrorf("Syntax Error: invalid escape \\%c at %s", e, l.where(l.pos-2))
			}
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
	return token{}, gqlErrorf("Syntax Error: unterminated string at %s", l.where(start))
}

// blockString reads a """block string""" (escapes: \""" only; the common
// indentation is removed as the spec says, simplified: leading and trailing
// blank lines are dropped and the minimal indentation of the other lines).
func (l *lexer) blockString() (token, error) {
	start := l.pos
	l.pos += 3
	var b strings.Builder
	for l.pos < len(l.src) {
		if strings.HasPrefix(l.src[l.pos:], `\"""`) {
			b.WriteString(`"""`)
			l.pos += 4
			continue
		}
		if strings.HasPrefix(l.src[l.pos:], `"""`) {
			l.pos += 3
			return token{kind: tokString, text: dedentBlock(b.String()), pos: start}, nil
		}
		b.WriteByte(l.src[l.pos])
		l.pos++
	}
	return token{}, gqlErrorf("Syntax Error: unterminated block string at %s", l.where(start))
}

func dedentBlock(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	indent := -1
	for i, ln := range lines {
		if i == 0 {
			continue
		}
		t := strings.TrimLeft(ln, " \t")
		if t == "" {
			continue
		}
		if n := len(ln) - len(t); indent < 0 || n < indent {
			indent = n
		}
	}
	for i := 1; i < len(lines) && indent > 0; i++ {
		if len(lines[i]) >= indent {
			lines[i] = lines[i][indent:]
		} else {
			lines[i] = strings.TrimLeft(lines[i], " \t")
		}
	}
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n")
}

// AST.

type valueKind int

const (
	valVariable valueKind = iota
	valInt
	valFloat
	valString
	valBool
	valNull
	valEnum
	valList
	valObject
)

type astValue struct {
	kind   valueKind
	text   string // variable name, number text, string, enum name
	b      bool
	list   []astValue
	fields []objField
}

type objField struct {
	name  string
	value astValue
}

type argument struct {
	name  string
	value astValue
}

type directive struct {
	name string
	args []argument
}

type selection struct {
	// A field when fragment == "" and !inline.
	alias, name string
	args        []argument
	directives  []directive
	sel         []selection
	hasSel      bool

	// ...Fragment or ... on Type { }.
	spread       string
	inline       bool
	typeCond     string
	selectionPos int
}

func (s *selection) responseKey() string {
	if s.alias != "" {
		return s.alias
	}
	return s.name
}

type typeRef struct {
	name    string // named type, or "" for a list
	elem    *typeRef
	nonNull bool
}

func (t typeRef) String() string {
	s := t.name
	if t.elem != nil {
		s = "[" + t.elem.String() + "]"
	}
	if t.nonNull {
		s += "!"
	}
	return s
}

type varDef struct {
	name       string
	typ        typeRef
	defaultVal *astValue
}

type operation struct {
	kind string // query, mutation, subscription
	name string
	vars []varDef
	dirs []directive
	sel  []selection
}

type fragmentDef struct {
	name     string
	typeCond string
	dirs     []directive
	sel      []selection
}

type document struct {
	ops       []*operation
	fragments map[string]*fragmentDef
}

type parser struct {
	lex *lexer
	tok token
}

func parseDocument(src string) (*document, error) {
	p := &parser{lex: &lexer{src: src}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	doc := &document{fragments: map[string]*fragmentDef{}}
	if p.tok.kind == tokEOF {
		return nil, gqlErrorf("Syntax Error: the document contains no operation")
	}
	for p.tok.kind != tokEOF {
		switch {
		case p.isPunct("{"):
			sel, err := p.selectionSet()
			if err != nil {
				return nil, err
			}
			doc.ops = append(doc.ops, &operation{kind: "query", sel: sel})
		case p.tok.kind == tokName && (p.tok.text == "query" || p.tok.text == "mutation" || p.tok.text == "subscription"):
			op, err := p.operation()
			if err != nil {
				return nil, err
			}
			doc.ops = append(doc.ops, op)
		case p.tok.kind == tokName && p.tok.text == "fragment":
			f, err := p.fragment()
			if err != nil {
				return nil, err
			}
			if _, dup := doc.fragments[f.name]; dup {
				return nil, gqlErrorf("There can be only one fragment named %q.", f.name)
			}
			doc.fragments[f.name] = f
		default:
			return nil, p.unexpected()
		}
	}
	return doc, nil
}

func (p *parser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) isPunct(s string) bool { return p.tok.kind == tokPunct && p.tok.text == s }

func (p *parser) unexpected() error {
	if p.tok.kind == tokEOF {
		return gqlErrorf("Syntax Error: unexpected end of document")
	}
	return gqlErrorf("Syntax Error: unexpected %q at %s", p.tok.text, p.lex.where(p.tok.pos))
}

func (p *parser) expect(s string) error {
	if !p.isPunct(s) {
		if p.tok.kind == tokEOF {
			return gqlErrorf("Syntax Error: expected %q, found end of document", s)
		}
		return gqlErrorf("Syntax Error: expected %q, found %q at %s", s, p.tok.text, p.lex.where(p.tok.pos))
	}
	return p.advance()
}

func (p *parser) name() (string, error) {
	if p.tok.kind != tokName {
		if p.tok.kind == tokEOF {
			return "", gqlErrorf("Syntax Error: expected a name, found end of document")
		}
		return "", gqlErrorf("Syntax Error: expected a name, found %q at %s", p.tok.text, p.lex.where(p.tok.pos))
	}
	n := p.tok.text
	return n, p.advance()
}

func (p *parser) operation() (*operation, error) {
	op := &operation{kind: p.tok.text}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokName {
		op.name = p.tok.text
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if p.isPunct("(") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		for !p.isPunct(")") {
			if err := p.expect("$"); err != nil {
				return nil, err
			}
			var v varDef
			var err error
			if v.name, err = p.name(); err != nil {
				return nil, err
			}
			if err := p.expect(":"); err != nil {
				return nil, err
			}
			if v.typ, err = p.typeRef(); err != nil {
				return nil, err
			}
			if p.isPunct("=") {
				if err := p.advance(); err != nil {
					return nil, err
				}
				d, err := p.value(true)
				if err != nil {
					return nil, err
				}
				v.defaultVal = &d
			}
			if _, err := p.directives(true); err != nil {
				return nil, err
			}
			op.vars = append(op.vars, v)
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	var err error
	if op.dirs, err = p.directives(false); err != nil {
		return nil, err
	}
	if op.sel, err = p.selectionSet(); err != nil {
		return nil, err
	}
	return op, nil
}

func (p *parser) typeRef() (typeRef, error) {
	var t typeRef
	if p.isPunct("[") {
		if err := p.advance(); err != nil {
			return t, err
		}
		elem, err := p.typeRef()
		if err != nil {
			return t, err
		}
		t.elem = &elem
		if err := p.expect("]"); err != nil {
			return t, err
		}
	} else {
		n, err := p.name()
		if err != nil {
			return t, err
		}
		t.name = n
	}
	if p.isPunct("!") {
		t.nonNull = true
		if err := p.advance(); err != nil {
			return t, err
		}
	}
	return t, nil
}

func (p *parser) fragment() (*fragmentDef, error) {
	if err := p.advance(); err != nil { // "fragment"
		return nil, err
	}
	f := &fragmentDef{}
	var err error
	if f.name, err = p.name(); err != nil {
		return nil, err
	}
	if f.name == "on" {
		return nil, gqlErrorf("Syntax Error: a fragment cannot be named \"on\"")
	}
	if p.tok.kind != tokName || p.tok.text != "on" {
		return nil, gqlErrorf("Syntax Error: expected \"on\" after fragment %s", f.name)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if f.typeCond, err = p.name(); err != nil {
		return nil, err
	}
	if f.dirs, err = p.directives(false); err != nil {
		return nil, err
	}
	if f.sel, err = p.selectionSet(); err != nil {
		return nil, err
	}
	return f, nil
}

func (p *parser) selectionSet() ([]selection, error) {
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	var out []selection
	for !p.isPunct("}") {
		s, err := p.selection()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, gqlErrorf("Syntax Error: empty selection set at %s", p.lex.where(p.tok.pos))
	}
	return out, p.advance()
}

func (p *parser) selection() (selection, error) {
	var s selection
	s.selectionPos = p.tok.pos
	var err error
	if p.isPunct("...") {
		if err := p.advance(); err != nil {
			return s, err
		}
		if p.tok.kind == tokName && p.tok.text != "on" {
			s.spread = p.tok.text
			if err := p.advance(); err != nil {
				return s, err
			}
			s.directives, err = p.directives(false)
			return s, err
		}
		s.inline = true
		if p.tok.kind == tokName && p.tok.text == "on" {
			if err := p.advance(); err != nil {
				return s, err
			}
			if s.typeCond, err = p.name(); err != nil {
				return s, err
			}
		}
		if s.directives, err = p.directives(false); err != nil {
			return s, err
		}
		s.sel, err = p.selectionSet()
		s.hasSel = true
		return s, err
	}
	if s.name, err = p.name(); err != nil {
		return s, err
	}
	if p.isPunct(":") {
		if err := p.advance(); err != nil {
			return s, err
		}
		s.alias = s.name
		if s.name, err = p.name(); err != nil {
			return s, err
		}
	}
	if s.args, err = p.arguments(false); err != nil {
		return s, err
	}
	if s.directives, err = p.directives(false); err != nil {
		return s, err
	}
	if p.isPunct("{") {
		s.hasSel = true
		if s.sel, err = p.selectionSet(); err != nil {
			return s, err
		}
	}
	return s, nil
}

func (p *parser) arguments(constant bool) ([]argument, error) {
	if !p.isPunct("(") {
		return nil, nil
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	var out []argument
	for !p.isPunct(")") {
		var a argument
		var err error
		if a.name, err = p.name(); err != nil {
			return nil, err
		}
		if err := p.expect(":"); err != nil {
			return nil, err
		}
		if a.value, err = p.value(constant); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, gqlErrorf("Syntax Error: empty argument list at %s", p.lex.where(p.tok.pos))
	}
	return out, p.advance()
}

func (p *parser) directives(constant bool) ([]directive, error) {
	var out []directive
	for p.isPunct("@") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		var d directive
		var err error
		if d.name, err = p.name(); err != nil {
			return nil, err
		}
		if d.args, err = p.arguments(constant); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func (p *parser) value(constant bool) (astValue, error) {
	t := p.tok
	switch {
	case p.isPunct("$"):
		if constant {
			return astValue{}, gqlErrorf("Syntax Error: unexpected variable at %s", p.lex.where(t.pos))
		}
		if err := p.advance(); err != nil {
			return astValue{}, err
		}
		n, err := p.name()
		return astValue{kind: valVariable, text: n}, err
	case p.isPunct("["):
		if err := p.advance(); err != nil {
			return astValue{}, err
		}
		v := astValue{kind: valList, list: []astValue{}}
		for !p.isPunct("]") {
			e, err := p.value(constant)
			if err != nil {
				return v, err
			}
			v.list = append(v.list, e)
		}
		return v, p.advance()
	case p.isPunct("{"):
		if err := p.advance(); err != nil {
			return astValue{}, err
		}
		v := astValue{kind: valObject}
		for !p.isPunct("}") {
			n, err := p.name()
			if err != nil {
				return v, err
			}
			if err := p.expect(":"); err != nil {
				return v, err
			}
			e, err := p.value(constant)
			if err != nil {
				return v, err
			}
			v.fields = append(v.fields, objField{name: n, value: e})
		}
		return v, p.advance()
	case t.kind == tokInt:
		return astValue{kind: valInt, text: t.text}, p.advance()
	case t.kind == tokFloat:
		return astValue{kind: valFloat, text: t.text}, p.advance()
	case t.kind == tokString:
		return astValue{kind: valString, text: t.text}, p.advance()
	case t.kind == tokName:
		var v astValue
		switch t.text {
		case "true", "false":
			v = astValue{kind: valBool, b: t.text == "true"}
		case "null":
			v = astValue{kind: valNull}
		default:
			v = astValue{kind: valEnum, text: t.text}
		}
		return v, p.advance()
	}
	return astValue{}, p.unexpected()
}
