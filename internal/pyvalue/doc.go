// Package pyvalue holds the Python value semantics the agent needs over
// decoded JSON: what str(), repr(), int(), bool(), ==, < and str.format give
// for a value, how Python's json module reads and writes one (NaN and
// Infinity included), and Utils.update_nested's merge. Commands, caches and
// alert definitions are JSON the Python agent handles as Python values;
// whatever a user sees of them (file names, alert texts, thresholds) must
// come out the same, so every package asks this one.
//
// Values are modelled with a small closed set of types:
//
//	nil      None
//	bool     bool
//	int64    int
//	float64  float
//	string   str
//	[]any    list (also tuples: they print differently, but no check returns one)
//	*Dict    dict, keys in insertion order (JSON document order)
//
// From converts what encoding/json produces (json.Number from a decoder
// with UseNumber, map[string]any) into the model; Str, Truthy and Int
// accept both directly. A float64 is always a Python float: decode with
// UseNumber to keep JSON's ints ints.
package pyvalue
