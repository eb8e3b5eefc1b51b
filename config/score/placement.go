package score

// placement reads [run] placement and fleet_replace.
func (p *parser) placement(r rawRun) (fleet, replace bool) {
	replace = true
	if r.FleetReplace != nil {
		replace = *r.FleetReplace
	}
	if r.Placement == nil {
		return false, replace
	}
	switch *r.Placement {
	case "local":
		return false, replace
	case "fleet":
		return true, replace
	}
	p.at("run.placement", "placement must be \"local\" or \"fleet\", not %q", *r.Placement)
	return false, replace
}
