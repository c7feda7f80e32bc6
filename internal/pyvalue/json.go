package pyvalue

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// ParseJSON decodes JSON the way Python's json.loads does and returns the
// value in the Python value model (doc.go): integers stay ints, objects
// keep their key order, and the non-standard NaN, Infinity and -Infinity
// tokens are accepted. Hadoop's JMX servlet and Python's json.dumps both
// emit those tokens, and encoding/json rejects them.
func ParseJSON(data []byte) (any, error) {
	p := pyJSONParser{data: data}
	p.skipSpace()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(p.data) {
		return nil, p.errorf("Extra data")
	}
	return v, nil
}

// maxJSONDepth bounds recursion on hostile input.
const maxJSONDepth = 512

type pyJSONParser struct {
	data []byte
	pos  int
}

var errJSONDepth = errors.New("JSON nested too deeply")

func (p *pyJSONParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: char %d", fmt.Sprintf(format, args...), p.pos)
}

func (p *pyJSONParser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *pyJSONParser) literal(word string) bool {
	if len(p.data)-p.pos >= len(word) && string(p.data[p.pos:p.pos+len(word)]) == word {
		p.pos += len(word)
		return true
	}
	return false
}

func (p *pyJSONParser) value(depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, errJSONDepth
	}
	if p.pos >= len(p.data) {
		return nil, p.errorf("Expecting value")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		return p.str()
	case p.literal("null"):
		return nil, nil
	case p.literal("true"):
		return true, nil
	case p.literal("false"):
		return false, nil
	case p.literal("NaN"):
		return math.NaN(), nil
	case p.literal("Infinity"):
		return math.Inf(1), nil
	case p.literal("-Infinity"):
		return math.Inf(-1), nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return nil, p.errorf("Expecting value")
}

func (p *pyJSONParser) object(depth int) (any, error) {
	d := NewDict()
	err := p.sequence('}', func() error {
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return p.errorf("Expecting property name enclosed in double quotes")
		}
		k, err := p.str()
		if err != nil {
			return err
		}
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return p.errorf("Expecting ':' delimiter")
		}
		p.pos++
		p.skipSpace()
		v, err := p.value(depth + 1)
		if err != nil {
			return err
		}
		d.Set(k, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

func (p *pyJSONParser) array(depth int) (any, error) {
	out := []any{}
	err := p.sequence(']', func() error {
		v, err := p.value(depth + 1)
		out = append(out, v)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// sequence reads an object's or an array's items, from its opening
// character to close, with item reading one (space before it skipped).
func (p *pyJSONParser) sequence(close byte, item func() error) error {
	p.pos++ // the opening '{' or '['
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == close {
		p.pos++
		return nil
	}
	for {
		p.skipSpace()
		if err := item(); err != nil {
			return err
		}
		p.skipSpace()
		if p.pos >= len(p.data) {
			return p.errorf("Expecting ',' delimiter")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case close:
			p.pos++
			return nil
		default:
			return p.errorf("Expecting ',' delimiter")
		}
	}
}

func (p *pyJSONParser) str() (string, error) {
	start := p.pos
	p.pos++ // opening quote
	simple := true
	for p.pos < len(p.data) {
		switch c := p.data[p.pos]; {
		case c == '"':
			p.pos++
			if simple {
				return string(p.data[start+1 : p.pos-1]), nil
			}
			var s string
			if err := json.Unmarshal(p.data[start:p.pos], &s); err != nil {
				return "", fmt.Errorf("invalid string at char %d: %w", start, err)
			}
			return s, nil
		case c == '\\':
			simple = false
			p.pos += 2
		case c < 0x20:
			return "", p.errorf("Invalid control character")
		default:
			if c >= 0x80 {
				// Let encoding/json validate and repair UTF-8.
				simple = false
			}
			p.pos++
		}
	}
	p.pos = start
	return "", p.errorf("Unterminated string")
}

func (p *pyJSONParser) number() (any, error) {
	start := p.pos
	if p.data[p.pos] == '-' {
		p.pos++
	}
	digits := func() int {
		n := 0
		for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.pos < len(p.data) && p.data[p.pos] == '0' {
		p.pos++
	} else if digits() == 0 {
		p.pos = start
		return nil, p.errorf("Expecting value")
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		save := p.pos
		p.pos++
		if digits() == 0 {
			p.pos = save // Python stops the number before a bare '.'
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		save := p.pos
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			p.pos = save
		}
	}
	return numberFromText(string(p.data[start:p.pos])), nil
}
