package pyvalue

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Alert texts are Python str.format templates written by stack authors
// ("TCP OK - {0:.3f}s response on port {1}", "{0:.1%}", "{1:d}"). The
// evaluation depends on which Python exception a template raises (only
// ValueError triggers the "d}" -> "s}" retry), and the exception text itself
// ends up in the alert text, so this is a faithful port of the relevant part
// of CPython's formatter (Objects/stringlib/unicode_format.h and
// Python/formatter_unicode.c), messages included.

// Error is a Python exception: its class decides the control flow, its
// message is what str(exception) prints.
type Error struct {
	class string // "ValueError", "IndexError", "KeyError", "TypeError", ...
	msg   string
}

func (e *Error) Error() string { return e.msg }

func valueErrorf(format string, args ...any) error {
	return &Error{class: "ValueError", msg: fmt.Sprintf(format, args...)}
}

func pyErrorf(class, format string, args ...any) error {
	return &Error{class: class, msg: fmt.Sprintf(format, args...)}
}

// IsValueError reports whether err is a Python ValueError.
func IsValueError(err error) bool {
	pe, ok := err.(*Error)
	return ok && pe.class == "ValueError"
}

// Widths and precisions beyond these are rejected as ValueError. Python
// would try to build the string; a definition must not be able to make the
// agent allocate gigabytes.
const (
	MaxFormatWidth     = 1 << 16
	MaxFormatPrecision = 1 << 12
)

// Format is template.format(*args).
func Format(template string, args []any) (string, error) {
	f := formatter{args: args}
	return f.vformat(template, 2)
}

type formatter struct {
	args []any
	// numbering: 0 not decided yet, 1 automatic ("{}"), 2 manual ("{0}").
	numbering int
	next      int
}

func (f *formatter) vformat(s string, depth int) (string, error) {
	if depth < 0 {
		return "", valueErrorf("Max string recursion exceeded")
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '{' && c != '}' {
			j := i + 1
			for j < len(s) && s[j] != '{' && s[j] != '}' {
				j++
			}
			b.WriteString(s[i:j])
			i = j
			continue
		}
		if c == '}' {
			if i+1 < len(s) && s[i+1] == '}' {
				b.WriteByte('}')
				i += 2
				continue
			}
			return "", valueErrorf("Single '}' encountered in format string")
		}
		if i+1 >= len(s) {
			return "", valueErrorf("Single '{' encountered in format string")
		}
		if s[i+1] == '{' {
			b.WriteByte('{')
			i += 2
			continue
		}
		// A replacement field runs to the matching '}' (format specs may nest
		// fields: "{0:{1}}").
		j, count := i+1, 1
		for ; j < len(s); j++ {
			if s[j] == '{' {
				count++
			} else if s[j] == '}' {
				count--
				if count == 0 {
					break
				}
			}
		}
		if count != 0 {
			return "", valueErrorf("expected '}' before end of string")
		}
		out, err := f.field(s[i+1:j], depth)
		if err != nil {
			return "", err
		}
		b.WriteString(out)
		i = j + 1
	}
	return b.String(), nil
}

// field renders one replacement field: name[!conversion][:spec].
func (f *formatter) field(field string, depth int) (string, error) {
	k := 0
scan:
	for k < len(field) {
		switch field[k] {
		case '{':
			return "", valueErrorf("unexpected '{' in field name")
		case '[':
			for k < len(field) && field[k] != ']' {
				k++
			}
		case ':', '!':
			break scan
		}
		k++
	}
	name := field[:min(k, len(field))]
	var conversion byte
	spec := ""
	if k < len(field) {
		if field[k] == '!' {
			if k+1 >= len(field) {
				return "", valueErrorf("end of string while looking for conversion specifier")
			}
			conversion = field[k+1]
			if k+2 < len(field) {
				if field[k+2] != ':' {
					return "", valueErrorf("expected ':' after conversion specifier")
				}
				spec = field[k+3:]
			}
		} else {
			spec = field[k+1:]
		}
	}
	obj, err := f.lookup(name)
	if err != nil {
		return "", err
	}
	switch conversion {
	case 0:
	case 'r':
		obj = Repr(obj)
	case 's':
		obj = Str(obj)
	case 'a':
		obj = asciiEscape(Repr(obj))
	default:
		return "", valueErrorf("Unknown conversion specifier %c", conversion)
	}
	if strings.IndexByte(spec, '{') >= 0 {
		if spec, err = f.vformat(spec, depth-1); err != nil {
			return "", err
		}
	}
	return formatValue(obj, spec)
}

// lookup resolves "0", "", "0[1]", "0.attr" against the positional args.
func (f *formatter) lookup(name string) (any, error) {
	first := len(name)
	if i := strings.IndexAny(name, ".["); i >= 0 {
		first = i
	}
	var idx int
	switch head := name[:first]; {
	case head == "":
		if f.numbering == 2 {
			return nil, valueErrorf("cannot switch from manual field specification to automatic field numbering")
		}
		f.numbering = 1
		idx = f.next
		f.next++
	case IsDigits(head):
		if f.numbering == 1 {
			return nil, valueErrorf("cannot switch from automatic field numbering to manual field specification")
		}
		f.numbering = 2
		n, err := strconv.Atoi(head)
		if err != nil {
			return nil, valueErrorf("Too many decimal digits in format string")
		}
		idx = n
	default:
		// No keyword arguments are ever passed.
		return nil, pyErrorf("KeyError", "%s", StrRepr(head))
	}
	if idx >= len(f.args) {
		return nil, pyErrorf("IndexError", "Replacement index %d out of range for positional args tuple", idx)
	}
	obj := f.args[idx]
	rest := name[first:]
	for rest != "" {
		switch rest[0] {
		case '.':
			end := len(rest)
			if i := strings.IndexAny(rest[1:], ".["); i >= 0 {
				end = i + 1
			}
			attr := rest[1:end]
			if attr == "" {
				return nil, valueErrorf("Empty attribute in format string")
			}
			return nil, pyErrorf("AttributeError", "'%s' object has no attribute '%s'", TypeName(obj), attr)
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, valueErrorf("Missing ']' in format string")
			}
			key := rest[1:end]
			if key == "" {
				return nil, valueErrorf("Empty attribute in format string")
			}
			var err error
			if obj, err = pySubscript(obj, key); err != nil {
				return nil, err
			}
			rest = rest[end+1:]
			if rest != "" && rest[0] != '.' && rest[0] != '[' {
				return nil, valueErrorf("Only '.' or '[' may follow ']' in format field specifier")
			}
		default:
			return nil, valueErrorf("Only '.' or '[' may follow ']' in format field specifier")
		}
	}
	return obj, nil
}

// pySubscript is obj[key] as str.format does it: an all-digit key is an int.
func pySubscript(obj any, key string) (any, error) {
	if IsDigits(key) {
		n, err := strconv.Atoi(key)
		if err != nil {
			return nil, valueErrorf("Too many decimal digits in format string")
		}
		switch t := obj.(type) {
		case []any:
			if n >= len(t) {
				return nil, pyErrorf("IndexError", "list index out of range")
			}
			return t[n], nil
		case string:
			r := []rune(t)
			if n >= len(r) {
				return nil, pyErrorf("IndexError", "string index out of range")
			}
			return string(r[n]), nil
		case *Dict:
			return nil, pyErrorf("KeyError", "%d", n)
		}
		return nil, pyErrorf("TypeError", "'%s' object is not subscriptable", TypeName(obj))
	}
	switch t := obj.(type) {
	case *Dict:
		if v, ok := t.Get(key); ok {
			return v, nil
		}
		return nil, pyErrorf("KeyError", "%s", StrRepr(key))
	case []any:
		return nil, pyErrorf("TypeError", "list indices must be integers or slices, not str")
	case string:
		return nil, pyErrorf("TypeError", "string indices must be integers, not 'str'")
	}
	return nil, pyErrorf("TypeError", "'%s' object is not subscriptable", TypeName(obj))
}

// asciiEscape is what ascii() does to repr's text: every non-ASCII
// character escaped.
func asciiEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 {
			b.WriteRune(r)
		} else {
			writeEscape(&b, r)
		}
	}
	return b.String()
}

// formatValue is format(obj, spec).
func formatValue(obj any, spec string) (string, error) {
	switch t := obj.(type) {
	case string:
		return formatStr(t, spec)
	case int64:
		if spec == "" {
			return strconv.FormatInt(t, 10), nil
		}
		return formatInt(t, spec, "int")
	case bool:
		if spec == "" {
			return Str(t), nil
		}
		var n int64
		if t {
			n = 1
		}
		return formatInt(n, spec, "bool")
	case float64:
		if spec == "" {
			return FloatRepr(t), nil
		}
		return formatFloat(t, spec)
	default:
		// None, list, dict: object.__format__.
		if spec == "" {
			return Str(obj), nil
		}
		return "", pyErrorf("TypeError", "unsupported format string passed to %s.__format__", TypeName(obj))
	}
}

// fmtSpec is a parsed standard format specifier.
type fmtSpec struct {
	fill      rune
	align     byte // '<', '>', '^', '=' or 0 (none given: default applied)
	sign      byte // '+', '-', ' ' or 0
	noNeg0    bool // 'z'
	alt       bool // '#'
	width     int  // -1: not given
	thousands byte // ',', '_' or 0
	group4    bool // '_' with b/o/x/X groups by four
	precision int  // -1: not given
	typ       byte // 0: not given
}

func isAlign(c byte) bool { return c == '<' || c == '>' || c == '=' || c == '^' }

func parseSpec(spec, typeName string, defaultType, defaultAlign byte) (fmtSpec, error) {
	s := fmtSpec{fill: ' ', align: defaultAlign, width: -1, precision: -1, typ: defaultType}
	pos := 0
	fillGiven, alignGiven := false, false
	if r, size := utf8.DecodeRuneInString(spec); size > 0 && size < len(spec) && isAlign(spec[size]) {
		s.fill, s.align = r, spec[size]
		fillGiven, alignGiven = true, true
		pos = size + 1
	} else if len(spec) > 0 && isAlign(spec[0]) {
		s.align = spec[0]
		alignGiven = true
		pos = 1
	}
	if pos < len(spec) && (spec[pos] == '+' || spec[pos] == '-' || spec[pos] == ' ') {
		s.sign = spec[pos]
		pos++
	}
	if pos < len(spec) && spec[pos] == 'z' {
		s.noNeg0 = true
		pos++
	}
	if pos < len(spec) && spec[pos] == '#' {
		s.alt = true
		pos++
	}
	if !fillGiven && pos < len(spec) && spec[pos] == '0' {
		s.fill = '0'
		if !alignGiven && defaultAlign == '>' {
			s.align = '='
		}
		pos++
	}
	n, consumed, err := specInt(spec, &pos, MaxFormatWidth)
	if err != nil {
		return s, err
	}
	if consumed > 0 {
		s.width = n
	}
	if pos < len(spec) && spec[pos] == ',' {
		s.thousands = ','
		pos++
	}
	if pos < len(spec) && spec[pos] == '_' {
		if s.thousands != 0 {
			return s, valueErrorf("Cannot specify both ',' and '_'.")
		}
		s.thousands = '_'
		pos++
	}
	if pos < len(spec) && spec[pos] == ',' && s.thousands == '_' {
		return s, valueErrorf("Cannot specify both ',' and '_'.")
	}
	if pos < len(spec) && spec[pos] == '.' {
		pos++
		n, consumed, err := specInt(spec, &pos, MaxFormatPrecision)
		if err != nil {
			return s, err
		}
		if consumed == 0 {
			return s, valueErrorf("Format specifier missing precision")
		}
		s.precision = n
	}
	if len(spec)-pos > 1 {
		return s, valueErrorf("Invalid format specifier '%s' for object of type '%s'", spec, typeName)
	}
	if len(spec)-pos == 1 {
		s.typ = spec[pos]
	}
	if s.thousands != 0 {
		switch s.typ {
		case 'd', 'e', 'f', 'g', 'E', 'G', '%', 'F', 0:
		case 'b', 'o', 'x', 'X':
			if s.thousands == '_' {
				s.group4 = true
				break
			}
			return s, invalidThousands(s.thousands, s.typ)
		default:
			return s, invalidThousands(s.thousands, s.typ)
		}
	}
	return s, nil
}

func invalidThousands(sep, typ byte) error {
	if typ > 32 && typ < 128 {
		return valueErrorf("Cannot specify '%c' with '%c'.", sep, typ)
	}
	return valueErrorf("Cannot specify '%c' with '\\x%x'.", sep, typ)
}

func unknownCode(typ byte, typeName string) error {
	if typ > 32 && typ < 128 {
		return valueErrorf("Unknown format code '%c' for object of type '%s'", typ, typeName)
	}
	return valueErrorf("Unknown format code '\\x%x' for object of type '%s'", typ, typeName)
}

func specInt(spec string, pos *int, limit int) (n, consumed int, err error) {
	for *pos < len(spec) && spec[*pos] >= '0' && spec[*pos] <= '9' {
		n = n*10 + int(spec[*pos]-'0')
		if n > limit {
			return 0, 0, valueErrorf("Too many decimal digits in format string")
		}
		*pos++
		consumed++
	}
	return n, consumed, nil
}

func formatStr(v, spec string) (string, error) {
	s, err := parseSpec(spec, "str", 's', '<')
	if err != nil {
		return "", err
	}
	if s.typ != 's' {
		return "", unknownCode(s.typ, "str")
	}
	switch {
	case s.sign != 0:
		return "", valueErrorf("Sign not allowed in string format specifier")
	case s.noNeg0:
		return "", valueErrorf("Negative zero coercion (z) not allowed in string format specifier")
	case s.alt:
		return "", valueErrorf("Alternate form (#) not allowed in string format specifier")
	case s.align == '=':
		return "", valueErrorf("'=' alignment not allowed in string format specifier")
	}
	if s.precision >= 0 && utf8.RuneCountInString(v) > s.precision {
		r := []rune(v)
		v = string(r[:s.precision])
	}
	return pad(v, s), nil
}

// pad aligns a whole text (strings, or numbers without '=' alignment).
func pad(v string, s fmtSpec) string {
	n := s.width - utf8.RuneCountInString(v)
	if n <= 0 {
		return v
	}
	fill := string(s.fill)
	switch s.align {
	case '>', '=':
		return strings.Repeat(fill, n) + v
	case '^':
		return strings.Repeat(fill, n/2) + v + strings.Repeat(fill, n-n/2)
	default:
		return v + strings.Repeat(fill, n)
	}
}

func formatInt(v int64, spec, typeName string) (string, error) {
	s, err := parseSpec(spec, typeName, 'd', '>')
	if err != nil {
		return "", err
	}
	switch s.typ {
	case 'b', 'c', 'd', 'o', 'x', 'X', 'n':
	case 'e', 'E', 'f', 'F', 'g', 'G', '%':
		return formatFloatSpec(float64(v), s)
	default:
		return "", unknownCode(s.typ, typeName)
	}
	if s.precision >= 0 {
		return "", valueErrorf("Precision not allowed in integer format specifier")
	}
	if s.noNeg0 {
		return "", valueErrorf("Negative zero coercion (z) not allowed in integer format specifier")
	}
	if s.typ == 'c' {
		if s.sign != 0 {
			return "", valueErrorf("Sign not allowed with integer format specifier 'c'")
		}
		if s.alt {
			return "", valueErrorf("Alternate form (#) not allowed with integer format specifier 'c'")
		}
		if v < 0 || v > 0x10ffff {
			return "", pyErrorf("OverflowError", "%%c arg not in range(0x110000)")
		}
		return layoutNumber("", "", string(rune(v)), "", s, false), nil
	}
	neg := v < 0
	mag := uint64(v)
	if neg {
		mag = uint64(-(v + 1)) + 1
	}
	base, prefix := 10, ""
	switch s.typ {
	case 'b':
		base, prefix = 2, "0b"
	case 'o':
		base, prefix = 8, "0o"
	case 'x':
		base, prefix = 16, "0x"
	case 'X':
		base, prefix = 16, "0X"
	}
	if !s.alt {
		prefix = ""
	}
	digits := strconv.FormatUint(mag, base)
	if s.typ == 'X' {
		digits = strings.ToUpper(digits)
	}
	return layoutNumber(signOf(neg, s.sign), prefix, digits, "", s, true), nil
}

func signOf(neg bool, opt byte) string {
	switch {
	case neg:
		return "-"
	case opt == '+':
		return "+"
	case opt == ' ':
		return " "
	}
	return ""
}

// layoutNumber assembles sign, prefix, the integer digits (grouped, and
// zero-filled when the fill is '0' with '=' alignment) and the remainder
// (fraction, exponent, '%'), then pads to the width.
func layoutNumber(sign, prefix, digits, rest string, s fmtSpec, group bool) string {
	sep, interval := byte(0), 3
	if group && s.thousands != 0 {
		sep = s.thousands
		if s.group4 {
			interval = 4
		}
	}
	minWidth := 0
	if s.fill == '0' && s.align == '=' && s.width > 0 {
		minWidth = s.width - len(sign) - len(prefix) - utf8.RuneCountInString(rest)
	}
	number := groupDigits(digits, sep, interval, minWidth)
	body := sign + prefix + number + rest
	n := s.width - utf8.RuneCountInString(body)
	if n <= 0 {
		return body
	}
	fill := strings.Repeat(string(s.fill), n)
	switch s.align {
	case '<':
		return body + fill
	case '^':
		return strings.Repeat(string(s.fill), n/2) + body + strings.Repeat(string(s.fill), n-n/2)
	case '=':
		return sign + prefix + fill + number + rest
	default:
		return fill + body
	}
}

// groupDigits inserts separators every interval digits from the right and
// pads with zeros up to minWidth the way CPython's
// _PyUnicode_InsertThousandsGrouping does (so "{:09,}" gives "0,001,234").
func groupDigits(digits string, sep byte, interval, minWidth int) string {
	if sep == 0 {
		if n := minWidth - len(digits); n > 0 {
			return strings.Repeat("0", n) + digits
		}
		return digits
	}
	var groups []string
	remaining := len(digits)
	for {
		l := min(interval, max(remaining, minWidth, 1))
		zeros := max(0, l-remaining)
		chars := max(0, min(remaining, l))
		groups = append(groups, strings.Repeat("0", zeros)+digits[remaining-chars:remaining])
		remaining -= chars
		minWidth -= l
		if remaining <= 0 && minWidth <= 0 {
			break
		}
		minWidth-- // the separator
	}
	var b strings.Builder
	for i := len(groups) - 1; i >= 0; i-- {
		b.WriteString(groups[i])
		if i > 0 {
			b.WriteByte(sep)
		}
	}
	return b.String()
}

func formatFloat(v float64, spec string) (string, error) {
	s, err := parseSpec(spec, "float", 0, '>')
	if err != nil {
		return "", err
	}
	return formatFloatSpec(v, s)
}

func formatFloatSpec(v float64, s fmtSpec) (string, error) {
	switch s.typ {
	case 0, 'e', 'E', 'f', 'F', 'g', 'G', 'n', '%':
	default:
		return "", unknownCode(s.typ, "float")
	}
	code := s.typ
	upper := code == 'E' || code == 'F' || code == 'G'
	addDot0 := false
	prec := s.precision
	val := v
	switch code {
	case 0:
		// No type: repr() without a precision, else 'g' that keeps a ".0".
		addDot0 = true
		if prec < 0 {
			code = 'r'
		} else {
			code = 'g'
		}
	case 'n', 'G':
		code = 'g'
	case 'E':
		code = 'e'
	case 'F':
		code = 'f'
	case '%':
		code = 'f'
		val *= 100
	}
	if prec < 0 {
		prec = 6
	}
	neg := math.Signbit(val) && !math.IsNaN(val)
	var body string
	switch {
	case math.IsNaN(val):
		body = "nan"
	case math.IsInf(val, 0):
		body = "inf"
	default:
		body = formatFloatPy(math.Abs(val), code, prec, addDot0, s.alt)
	}
	if upper {
		body = strings.ToUpper(body)
	}
	if s.typ == '%' {
		body += "%"
	}
	if neg && s.noNeg0 && isZeroText(body) {
		neg = false
	}
	n := 0
	for n < len(body) && body[n] >= '0' && body[n] <= '9' {
		n++
	}
	return layoutNumber(signOf(neg, s.sign), "", body[:n], body[n:], s, true), nil
}

// isZeroText reports whether a formatted magnitude shows only zeros.
func isZeroText(body string) bool {
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c >= '1' && c <= '9' {
			return false
		}
		if c == 'e' || c == 'E' {
			break
		}
	}
	return true
}

// formatFloatPy formats f (sign included for repr's sake) with CPython's
// float formatting rules. code: 'e', 'f', 'g' (precision = significant
// digits) or 'r' (repr: shortest round-trip digits). addDot0 keeps at least
// one digit after the point in fixed notation and moves the switch to
// exponent notation one digit earlier; alt is the '#' flag.
func formatFloatPy(f float64, code byte, prec int, addDot0, alt bool) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.Signbit(f):
		return "-" + formatFloatPy(-f, code, prec, addDot0, alt)
	}
	switch code {
	case 'f':
		// strconv and CPython both round the exact binary value correctly.
		s := strconv.FormatFloat(f, 'f', prec, 64)
		if alt && prec == 0 {
			s += "."
		}
		return s
	case 'e':
		s := strconv.FormatFloat(f, 'e', prec, 64)
		if alt && prec == 0 {
			i := strings.IndexByte(s, 'e')
			s = s[:i] + "." + s[i:]
		}
		return s
	}
	var digits string
	var decpt int
	if code == 'g' {
		if prec == 0 {
			prec = 1
		}
		digits, decpt = sigDigits(f, prec)
	} else {
		digits, decpt = sigDigits(f, -1)
	}
	// What follows is CPython's format_float_short layout: a window
	// [vStart, vEnd) over the digits padded with zeros on both sides, a
	// decimal point at decpt, an optional exponent.
	vEnd := len(digits)
	useExp := false
	if code == 'g' {
		limit := prec
		if addDot0 {
			limit = prec - 1
		}
		if decpt <= -4 || decpt > limit {
			useExp = true
		}
		if alt {
			vEnd = prec
		}
	} else if decpt <= -4 || decpt > 16 {
		useExp = true
	}
	exp := 0
	if useExp {
		exp = decpt - 1
		decpt = 1
	}
	vStart := 0
	if decpt <= 0 {
		vStart = decpt - 1
	}
	if !useExp && addDot0 {
		vEnd = max(vEnd, decpt+1)
	} else {
		vEnd = max(vEnd, decpt)
	}
	var b strings.Builder
	if decpt <= 0 {
		b.WriteString(strings.Repeat("0", decpt-vStart))
		b.WriteByte('.')
		b.WriteString(strings.Repeat("0", -decpt))
	} else {
		b.WriteString(strings.Repeat("0", -vStart))
	}
	if decpt > 0 && decpt <= len(digits) {
		b.WriteString(digits[:decpt])
		b.WriteByte('.')
		b.WriteString(digits[decpt:])
	} else {
		b.WriteString(digits)
	}
	if len(digits) < decpt {
		b.WriteString(strings.Repeat("0", decpt-len(digits)))
		b.WriteByte('.')
		b.WriteString(strings.Repeat("0", vEnd-decpt))
	} else {
		b.WriteString(strings.Repeat("0", vEnd-len(digits)))
	}
	out := b.String()
	if strings.HasSuffix(out, ".") && !alt {
		out = out[:len(out)-1]
	}
	if useExp {
		sign := '+'
		if exp < 0 {
			sign, exp = '-', -exp
		}
		out += fmt.Sprintf("e%c%02d", sign, exp)
	}
	return out
}

// sigDigits returns the decimal digits of f >= 0 rounded to n significant
// digits (n < 0: the shortest that round-trips), without trailing zeros,
// and the position of the decimal point relative to them (value =
// 0.DIGITS * 10^decpt). Zero is ("0", 1), as CPython's dtoa returns it.
func sigDigits(f float64, n int) (string, int) {
	s := strconv.FormatFloat(f, 'e', max(n-1, -1), 64)
	e := strings.IndexByte(s, 'e')
	exp, _ := strconv.Atoi(s[e+1:])
	digits := strings.Replace(s[:e], ".", "", 1)
	digits = strings.TrimRight(digits, "0")
	if digits == "" {
		return "0", 1
	}
	return digits, exp + 1
}
