package dashboard

import "github.com/drsync/drsync/render/view"

// offsitePanels are the dashboard's off-site row: lag per target against
// its interval, what each target holds and when it was last proven, the
// bytes each send moves, and drills from off-site against the RTO.
func offsitePanels(in view.Input) []panel {
	all := view.OffsiteCopies(in)
	if len(all) == 0 {
		return nil
	}
	var lag []override
	for _, c := range all {
		lag = append(lag, thresholdOverride(c.Owner.Name+" → "+c.Target, c.Interval.Seconds(), 2*c.Interval.Seconds()))
	}
	const by = "max by (subvolume, tier, target, target_kind) "
	return []panel{
		stat("Off-site lag", 24, 6,
			"Age of the newest copy on each off-site target: yellow past its off-site interval, red past twice it (OffsiteTooOld).",
			"s", lag,
			query(`time() - backup_offsite_newest_snapshot_timestamp`, "{{subvolume}} → {{target}}")),
		withResultMapping(table("Off-site copies per target", 24, 8,
			map[string]string{"Value #A": "Result", "Value #B": "Tested", "Value #C": "Newest copy", "Value #D": "Copies",
				"Value #E": "Last send", "Value #F": "Bytes sent", "Value #G": "Verified snapshot"},
			map[string]propertyValue{"Tested": unit("dateTimeFromNow"), "Newest copy": unit("dateTimeFromNow"),
				"Last send": unit("dateTimeFromNow"), "Bytes sent": unit("bytes"), "Verified snapshot": unit("dateTimeFromNow")},
			query(by+`(backup_offsite_restore_test_success)`, ""),
			query(by+`(backup_offsite_restore_test_last_run_timestamp) * 1000`, ""),
			query(by+`(backup_offsite_newest_snapshot_timestamp) * 1000`, ""),
			query(by+`(backup_offsite_copies)`, ""),
			query(by+`(backup_offsite_last_success_timestamp) * 1000`, ""),
			query(by+`(backup_offsite_last_send_bytes)`, ""),
			query(by+`(backup_offsite_verified_snapshot_timestamp) * 1000`, ""))),
		timeSeries("Off-site bytes per send", 12, 8, "bytes",
			query(`backup_offsite_last_send_bytes`, "{{subvolume}} → {{target}}")),
		withResultMapping(table("Drills from off-site (DR-004 RTO)", 12, 8,
			map[string]string{"Value #A": "Result", "Value #B": "Restore", "Value #C": "Verify", "Value #D": "Total", "Value #E": "Drilled"},
			map[string]propertyValue{"Restore": unit("s"), "Verify": unit("s"), "Total": unit("s"), "Drilled": unit("dateTimeFromNow")},
			query(by+`(backup_offsite_drill_success)`, ""),
			query(by+`(backup_offsite_drill_restore_seconds)`, ""),
			query(by+`(backup_offsite_drill_verify_seconds)`, ""),
			query(by+`(backup_offsite_drill_duration_seconds)`, ""),
			query(by+`(backup_offsite_drill_last_run_timestamp) * 1000`, ""))),
	}
}
