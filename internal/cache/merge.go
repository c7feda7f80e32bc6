package cache

import (
	"fmt"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/pyvalue"
)

// The merge functions take the current content (never modified) and an
// event's clusters (owned by the merge, freshly decoded) and return the new
// content. They copy only what they change: untouched clusters, hosts,
// components and definitions stay shared with the previous snapshot.

type mergeFunc func(cur, ev clusterSet, log *logrus.Entry) (clusterSet, error)

// topologyUpdate: unknown clusters are inserted whole; hosts are upserted by
// hostId (shallow key overwrite); components are upserted by (serviceName,
// componentName) with hostIds unioned and every other key replaced shallowly.
// [quirk kept] Keys of the cluster object other than hosts and components are
// ignored for a known cluster, as in the Python agent.
func topologyUpdate(cur, ev clusterSet, _ *logrus.Entry) (clusterSet, error) {
	next := cur.clone()
	for _, id := range ev.ids {
		u := ev.m[id]
		old, ok := next.m[id]
		if !ok {
			next.put(id, u)
			continue
		}
		c := shallowCopy(old)
		if hv, ok := u["hosts"]; ok {
			hosts, err := upsertHosts(c["hosts"], hv)
			if err != nil {
				return clusterSet{}, invalid("topology UPDATE cluster %s: %v", id, err)
			}
			c["hosts"] = hosts
		}
		if cv, ok := u["components"]; ok {
			comps, err := upsertComponents(c["components"], cv)
			if err != nil {
				return clusterSet{}, invalid("topology UPDATE cluster %s: %v", id, err)
			}
			c["components"] = comps
		}
		next.m[id] = c
	}
	return next, nil
}

// upsertHosts merges hosts by hostId: a known host's fields are overwritten
// by the update's (shallowly), an unknown one is appended.
func upsertHosts(existing, updates any) ([]any, error) {
	return upsertByID(existing, updates, "hostId", "hosts", "host entry", func(old, upd map[string]any) map[string]any {
		m := shallowCopy(old)
		for k, v := range upd {
			m[k] = v
		}
		return m
	})
}

// upsertByID merges a list of objects keyed by idField: each update is
// combined with the element of the same id, or appended. The existing list
// is not modified.
func upsertByID(existing, updates any, idField, listName, itemName string, combine func(old, upd map[string]any) map[string]any) ([]any, error) {
	ups, ok := listOf(updates)
	if !ok {
		return nil, fmt.Errorf("%s is not a list", listName)
	}
	list, ok := listOf(existing)
	if !ok {
		return nil, fmt.Errorf("cached %s is not a list", listName)
	}
	out := make([]any, len(list), len(list)+len(ups))
	copy(out, list)
	index := make(map[string]int, len(out))
	for i, e := range out {
		if em, ok := e.(map[string]any); ok {
			if k, ok := idKey(em[idField]); ok {
				if _, seen := index[k]; !seen {
					index[k] = i
				}
			}
		}
	}
	for _, u := range ups {
		um, ok := u.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s is not an object", itemName)
		}
		k, ok := idKey(um[idField])
		if !ok {
			return nil, fmt.Errorf("%s without a %s", itemName, idField)
		}
		if i, found := index[k]; found {
			out[i] = combine(out[i].(map[string]any), um)
			continue
		}
		index[k] = len(out)
		out = append(out, um)
	}
	return out, nil
}

type componentKey struct{ service, component string }

func keyOfComponent(v any) (componentKey, map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return componentKey{}, nil, fmt.Errorf("component entry is not an object")
	}
	svc, ok1 := m["serviceName"].(string)
	comp, ok2 := m["componentName"].(string)
	if !ok1 || !ok2 {
		return componentKey{}, nil, fmt.Errorf("component entry without serviceName/componentName")
	}
	return componentKey{svc, comp}, m, nil
}

func upsertComponents(existing, updates any) ([]any, error) {
	ups, ok := listOf(updates)
	if !ok {
		return nil, fmt.Errorf("components is not a list")
	}
	list, ok := listOf(existing)
	if !ok {
		return nil, fmt.Errorf("cached components is not a list")
	}
	out := make([]any, len(list), len(list)+len(ups))
	copy(out, list)
	index := make(map[componentKey]int, len(out))
	for i, c := range out {
		if k, _, err := keyOfComponent(c); err == nil {
			if _, seen := index[k]; !seen {
				index[k] = i
			}
		}
	}
	for _, c := range ups {
		k, cm, err := keyOfComponent(c)
		if err != nil {
			return nil, err
		}
		i, found := index[k]
		if !found {
			index[k] = len(out)
			out = append(out, cm)
			continue
		}
		m := shallowCopy(out[i].(map[string]any))
		for kk, vv := range cm {
			if kk == "hostIds" {
				u, err := unionIDs(m["hostIds"], vv)
				if err != nil {
					return nil, fmt.Errorf("component %s/%s: %v", k.service, k.component, err)
				}
				vv = u
			}
			m[kk] = vv
		}
		out[i] = m
	}
	return out, nil
}

// unionIDs returns the existing ids (duplicates dropped) followed by the new
// ones not yet present. Python builds a set, so its order is arbitrary; a
// stable order is as valid and keeps the file diff-friendly.
func unionIDs(existing, add any) ([]any, error) {
	a, ok1 := listOf(existing)
	b, ok2 := listOf(add)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("hostIds is not a list")
	}
	seen := make(map[string]bool, len(a)+len(b))
	out := make([]any, 0, len(a)+len(b))
	for _, l := range [][]any{a, b} {
		for _, v := range l {
			k, ok := idKey(v)
			if !ok {
				return nil, fmt.Errorf("host id %v is not a number", v)
			}
			if !seen[k] {
				seen[k] = true
				out = append(out, v)
			}
		}
	}
	return out, nil
}

// topologyDelete: a cluster object {} deletes the cluster; listed hosts are
// removed by hostId (unknown ones logged); listed components lose the listed
// hostIds and are removed when none remain; an unknown component is an error;
// an unknown cluster is logged and skipped.
//
// Deliberate difference: the Python agent filters a stale copy of the host
// and component lists on every removal, so of several hosts (or emptied
// components) in one DELETE only the last one is really removed. Here all of
// them are.
func topologyDelete(cur, ev clusterSet, log *logrus.Entry) (clusterSet, error) {
	next := cur.clone()
	for _, id := range ev.ids {
		d := ev.m[id]
		old, ok := next.m[id]
		if !ok {
			log.WithField("cluster", id).Error("topology DELETE for a cluster not in the cache; skipped")
			continue
		}
		if len(d) == 0 {
			next.remove(id)
			continue
		}
		c := shallowCopy(old)
		if hv, ok := d["hosts"]; ok {
			hosts, err := deleteHosts(c["hosts"], hv, id, log)
			if err != nil {
				return clusterSet{}, invalid("topology DELETE cluster %s: %v", id, err)
			}
			if hosts != nil {
				c["hosts"] = hosts
			}
		}
		if cv, ok := d["components"]; ok {
			comps, err := deleteComponents(c["components"], cv)
			if err != nil {
				return clusterSet{}, invalid("topology DELETE cluster %s: %v", id, err)
			}
			c["components"] = comps
		}
		next.m[id] = c
	}
	return next, nil
}

// deleteHosts returns nil when the cluster had no hosts list at all (then no
// key is added).
func deleteHosts(existing, dels any, cluster string, log *logrus.Entry) ([]any, error) {
	ds, ok := listOf(dels)
	if !ok {
		return nil, fmt.Errorf("hosts is not a list")
	}
	list, ok := listOf(existing)
	if !ok {
		return nil, fmt.Errorf("cached hosts is not a list")
	}
	present := make(map[string]bool, len(list))
	for _, h := range list {
		if hm, ok := h.(map[string]any); ok {
			if k, ok := idKey(hm["hostId"]); ok {
				present[k] = true
			}
		}
	}
	drop := make(map[string]bool, len(ds))
	for _, h := range ds {
		hm, ok := h.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("host entry is not an object")
		}
		k, ok := idKey(hm["hostId"])
		if !ok {
			return nil, fmt.Errorf("host entry without a hostId")
		}
		if !present[k] {
			log.WithFields(logrus.Fields{"cluster": cluster, "hostId": hm["hostId"]}).
				Error("topology DELETE of a host not in the cache; skipped")
			continue
		}
		drop[k] = true
	}
	if existing == nil {
		return nil, nil
	}
	out := make([]any, 0, len(list))
	for _, h := range list {
		if hm, ok := h.(map[string]any); ok {
			if k, ok := idKey(hm["hostId"]); ok && drop[k] {
				continue
			}
		}
		out = append(out, h)
	}
	return out, nil
}

func deleteComponents(existing, dels any) ([]any, error) {
	ds, ok := listOf(dels)
	if !ok {
		return nil, fmt.Errorf("components is not a list")
	}
	list, ok := listOf(existing)
	if !ok {
		return nil, fmt.Errorf("cached components is not a list")
	}
	out := make([]any, len(list))
	copy(out, list)
	for _, c := range ds {
		k, cm, err := keyOfComponent(c)
		if err != nil {
			return nil, err
		}
		i := -1
		for j, e := range out {
			if ek, _, err := keyOfComponent(e); err == nil && ek == k {
				i = j
				break
			}
		}
		if i < 0 {
			return nil, fmt.Errorf("cannot delete component %s/%s: not in the cache", k.service, k.component)
		}
		em := out[i].(map[string]any)
		if have, ok := em["hostIds"]; ok {
			remove, ok := cm["hostIds"]
			if !ok {
				return nil, fmt.Errorf("DELETE of component %s/%s without hostIds", k.service, k.component)
			}
			rest, err := subtractIDs(have, remove)
			if err != nil {
				return nil, fmt.Errorf("component %s/%s: %v", k.service, k.component, err)
			}
			if len(rest) > 0 {
				m := shallowCopy(em)
				m["hostIds"] = rest
				out[i] = m
				continue
			}
		}
		out = append(out[:i], out[i+1:]...)
	}
	return out, nil
}

func subtractIDs(have, remove any) ([]any, error) {
	a, ok1 := listOf(have)
	b, ok2 := listOf(remove)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("hostIds is not a list")
	}
	drop := make(map[string]bool, len(b))
	for _, v := range b {
		if k, ok := idKey(v); ok {
			drop[k] = true
		}
	}
	out := make([]any, 0, len(a))
	for _, v := range a {
		if k, ok := idKey(v); ok && drop[k] {
			continue
		}
		out = append(out, v)
	}
	return out, nil
}

// metadataUpdate deep-merges every cluster as Python's Utils.update_nested
// does: nested objects merge key by key, any other value (arrays included)
// replaces; keys are never removed. The snapshot's maps are not modified.
func metadataUpdate(cur, ev clusterSet, _ *logrus.Entry) (clusterSet, error) {
	next := cur.clone()
	for _, id := range ev.ids {
		next.put(id, pyvalue.MergeNested(next.m[id], ev.m[id]))
	}
	return next, nil
}

// metadataDelete only removes whole clusters; any non-empty cluster object is
// an error ("deleting sub-values is not supported").
//
// Deliberate difference: Python raises KeyError for a cluster it does not
// have; deleting what is already absent is logged and treated as done.
func metadataDelete(cur, ev clusterSet, log *logrus.Entry) (clusterSet, error) {
	next := cur.clone()
	for _, id := range ev.ids {
		if len(ev.m[id]) != 0 {
			return clusterSet{}, invalid("metadata DELETE cluster %s: deleting cluster sub-values is not supported", id)
		}
		if _, ok := next.m[id]; !ok {
			log.WithField("cluster", id).Warn("metadata DELETE for a cluster not in the cache; nothing to do")
			continue
		}
		next.remove(id)
	}
	return next, nil
}

// alertDefinitionsUpdate: unknown clusters are inserted whole; definitions are
// replaced by definitionId or appended; every other key of the cluster object
// overwrites the cached one.
//
// Deliberate difference: a cluster object without "alertDefinitions" only
// overwrites the other keys (Python raises KeyError).
func alertDefinitionsUpdate(cur, ev clusterSet, _ *logrus.Entry) (clusterSet, error) {
	next := cur.clone()
	for _, id := range ev.ids {
		u := ev.m[id]
		old, ok := next.m[id]
		if !ok {
			next.put(id, u)
			continue
		}
		c := shallowCopy(old)
		for k, v := range u {
			if k != "alertDefinitions" {
				c[k] = v
			}
		}
		if dv, ok := u["alertDefinitions"]; ok {
			defs, err := upsertDefinitions(old["alertDefinitions"], dv)
			if err != nil {
				return clusterSet{}, invalid("alert definitions UPDATE cluster %s: %v", id, err)
			}
			c["alertDefinitions"] = defs
		}
		next.m[id] = c
	}
	return next, nil
}

// upsertDefinitions replaces definitions by definitionId and appends
// unknown ones.
func upsertDefinitions(existing, updates any) ([]any, error) {
	return upsertByID(existing, updates, "definitionId", "alertDefinitions", "alert definition", func(_, upd map[string]any) map[string]any {
		return upd
	})
}

// alertDefinitionsDelete: {} deletes the cluster; otherwise each listed
// definition is removed by definitionId and an unknown id is an error; an
// unknown cluster is logged and skipped.
// [quirk kept] {"alertDefinitions": []} (what the real server sends when a
// cluster goes away) deletes nothing.
// Deliberate difference: a non-empty cluster object without
// "alertDefinitions" deletes nothing (Python raises KeyError).
func alertDefinitionsDelete(cur, ev clusterSet, log *logrus.Entry) (clusterSet, error) {
	next := cur.clone()
	for _, id := range ev.ids {
		d := ev.m[id]
		old, ok := next.m[id]
		if !ok {
			log.WithField("cluster", id).Error("alert definitions DELETE for a cluster not in the cache; skipped")
			continue
		}
		if len(d) == 0 {
			next.remove(id)
			continue
		}
		dv, ok := d["alertDefinitions"]
		if !ok {
			continue
		}
		dels, ok := listOf(dv)
		if !ok {
			return clusterSet{}, invalid("alert definitions DELETE cluster %s: alertDefinitions is not a list", id)
		}
		list, ok := listOf(old["alertDefinitions"])
		if !ok {
			return clusterSet{}, invalid("alert definitions DELETE cluster %s: cached alertDefinitions is not a list", id)
		}
		out := make([]any, len(list))
		copy(out, list)
		for _, e := range dels {
			em, ok := e.(map[string]any)
			if !ok {
				return clusterSet{}, invalid("alert definitions DELETE cluster %s: definition is not an object", id)
			}
			k, ok := idKey(em["definitionId"])
			if !ok {
				return clusterSet{}, invalid("alert definitions DELETE cluster %s: definition without a definitionId", id)
			}
			i := -1
			for j, x := range out {
				if xm, ok := x.(map[string]any); ok {
					if xk, ok := idKey(xm["definitionId"]); ok && xk == k {
						i = j
						break
					}
				}
			}
			if i < 0 {
				return clusterSet{}, invalid("alert definitions DELETE cluster %s: cannot delete definition %v: not in the cache", id, em["definitionId"])
			}
			out = append(out[:i], out[i+1:]...)
		}
		c := shallowCopy(old)
		c["alertDefinitions"] = out
		next.m[id] = c
	}
	return next, nil
}
