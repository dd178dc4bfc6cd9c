package audit_test

import (
	"fmt"
)

// The policy document, the body of genesis and policy entries (FORMAT.md, "The policy
// document"): fixed member order, maps sorted by key, figures kept as sent.

type policy struct {
	timezone                                string
	scales                                  map[string]uint64
	maxPerEntry, maxPerDay, pph             string
	backdateDays                            uint64
	categories                              map[string]string            // name → points_per_hour
	limits                                  map[string]map[string]string // kind → asset → upper
	transfer                                map[string]string
	convertPPH                              string
	holdDefault, holdMax, stationWindowDays uint64
}

func decodePolicy(v value) (*policy, error) {
	m, err := members(v, "timezone", "assets", "credit", "limits", "transfer", "convert", "hold", "reverse")
	if err != nil {
		return nil, err
	}
	p := &policy{}
	if p.timezone, err = asString(m["timezone"]); err != nil {
		return nil, fmt.Errorf("timezone: %w", err)
	}
	if p.scales, err = mapOf(m["assets"], func(v value) (uint64, error) {
		sm, err := members(v, "scale")
		if err != nil {
			return 0, err
		}
		return asUint(sm["scale"])
	}); err != nil {
		return nil, fmt.Errorf("assets: %w", err)
	}
	if err := decodeCredit(m["credit"], p); err != nil {
		return nil, fmt.Errorf("credit: %w", err)
	}
	if p.limits, err = mapOf(m["limits"], func(v value) (map[string]string, error) {
		return mapOf(v, func(v value) (string, error) { return oneString(v, "upper") })
	}); err != nil {
		return nil, fmt.Errorf("limits: %w", err)
	}
	if p.transfer, err = mapOf(m["transfer"], func(v value) (string, error) {
		s, err := asString(v)
		if err == nil && s != "none" && s != "family" && s != "any" {
			err = fmt.Errorf("%q is not none, family or any", s)
		}
		return s, err
	}); err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	if p.convertPPH, err = oneString(m["convert"], "points_per_hour"); err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	hm, err := members(m["hold"], "default_ttl_seconds", "max_ttl_seconds")
	if err != nil {
		return nil, fmt.Errorf("hold: %w", err)
	}
	if p.holdDefault, err = asUint(hm["default_ttl_seconds"]); err != nil {
		return nil, err
	}
	if p.holdMax, err = asUint(hm["max_ttl_seconds"]); err != nil {
		return nil, err
	}
	rm, err := members(m["reverse"], "station_window_days")
	if err != nil {
		return nil, fmt.Errorf("reverse: %w", err)
	}
	p.stationWindowDays, err = asUint(rm["station_window_days"])
	return p, err
}

func decodeCredit(v value, p *policy) error {
	m, err := members(v, "max_hours_per_entry", "max_hours_per_day", "backdate_days", "points_per_hour", "categories")
	if err != nil {
		return err
	}
	for name, dst := range map[string]*string{"max_hours_per_entry": &p.maxPerEntry, "max_hours_per_day": &p.maxPerDay, "points_per_hour": &p.pph} {
		if *dst, err = asString(m[name]); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if p.backdateDays, err = asUint(m["backdate_days"]); err != nil {
		return err
	}
	p.categories, err = mapOf(m["categories"], func(v value) (string, error) { return oneString(v, "points_per_hour") })
	return err
}

// oneString reads an object of one string member.
func oneString(v value, name string) (string, error) {
	m, err := members(v, name)
	if err != nil {
		return "", err
	}
	return asString(m[name])
}

func mapOf[V any](v value, elem func(value) (V, error)) (map[string]V, error) {
	if v.kind != kObj {
		return nil, fmt.Errorf("not an object")
	}
	out := map[string]V{}
	for _, mb := range v.obj {
		e, err := elem(mb.val)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", mb.key, err)
		}
		out[mb.key] = e
	}
	return out, nil
}

func writeMap[V any](c *canon, m map[string]V, elem func(V)) {
	c.raw("{")
	for _, k := range sortedKeys(m) {
		c.key(k)
		elem(m[k])
	}
	c.raw("}")
}

func encodePolicy(c *canon, p *policy) {
	oneStr := func(name string) func(string) {
		return func(s string) { c.raw("{"); c.key(name); c.str(s); c.raw("}") }
	}
	c.raw("{")
	c.key("timezone")
	c.str(p.timezone)
	c.key("assets")
	writeMap(c, p.scales, func(s uint64) { c.raw("{"); c.key("scale"); c.uint(s); c.raw("}") })
	c.key("credit")
	c.raw("{")
	c.key("max_hours_per_entry")
	c.str(p.maxPerEntry)
	c.key("max_hours_per_day")
	c.str(p.maxPerDay)
	c.key("backdate_days")
	c.uint(p.backdateDays)
	c.key("points_per_hour")
	c.str(p.pph)
	c.key("categories")
	writeMap(c, p.categories, oneStr("points_per_hour"))
	c.raw("}")
	c.key("limits")
	writeMap(c, p.limits, func(kind map[string]string) { writeMap(c, kind, oneStr("upper")) })
	c.key("transfer")
	writeMap(c, p.transfer, c.str)
	c.key("convert")
	oneStr("points_per_hour")(p.convertPPH)
	c.key("hold")
	c.raw("{")
	c.key("default_ttl_seconds")
	c.uint(p.holdDefault)
	c.key("max_ttl_seconds")
	c.uint(p.holdMax)
	c.raw("}")
	c.key("reverse")
	c.raw("{")
	c.key("station_window_days")
	c.uint(p.stationWindowDays)
	c.raw("}}")
}
