package pyvalue

// Python's Utils.update_nested merges a dict into another key by key:
// nested dicts merge, any other value (lists included) replaces. It changes
// its first argument. Callers here need two forms: the caches keep their
// snapshots immutable and want a new map, the command builder owns its
// target and wants it changed. A dst value that is not a dict where src has
// one is replaced by (a copy of) src's dict. Deliberate difference: Python
// keeps only the last key of src's dict there.

// MergeNested returns dst updated by src and changes neither: maps on the
// path of a change are new, everything else is shared with dst and src.
func MergeNested(dst, src map[string]any) map[string]any {
	out := make(map[string]any, len(dst)+len(src))
	for k, v := range dst {
		out[k] = v
	}
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			dm, _ := out[k].(map[string]any)
			out[k] = MergeNested(dm, sm)
			continue
		}
		out[k] = v
	}
	return out
}

// MergeNestedInPlace merges src into dst, changes dst and returns it (a new
// map when dst is nil). What it takes from src is copied, never aliased.
func MergeNestedInPlace(dst, src map[string]any) map[string]any {
	if dst == nil {
		dst = make(map[string]any, len(src))
	}
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			dm, _ := dst[k].(map[string]any)
			dst[k] = MergeNestedInPlace(dm, sm)
			continue
		}
		dst[k] = DeepCopy(v)
	}
	return dst
}

// DeepCopy is copy.deepcopy of a decoded JSON value: maps and slices are
// copied all the way down, typed string maps and lists become
// map[string]any and []any, scalars are shared (they are immutable). A nil
// map or slice stays nil.
func DeepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if t == nil {
			return map[string]any(nil)
		}
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = DeepCopy(e)
		}
		return out
	case []any:
		if t == nil {
			return []any(nil)
		}
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = DeepCopy(e)
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = e
		}
		return out
	case []string:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = e
		}
		return out
	default:
		return v
	}
}
