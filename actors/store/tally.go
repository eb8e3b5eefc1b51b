package store

// tallyMigration adds each run's sheet tallies (completed, failed, the cost
// and tokens reported, and how many sheets reported each) in a narrow table
// of their own, fills them from the sheets already stored, and keeps them
// with triggers in the transaction that changes a sheet.
//
// Sheets are written with INSERT OR REPLACE, whose implicit delete fires no
// delete trigger (recursive_triggers is off): a BEFORE INSERT trigger takes
// the replaced row's share out, an AFTER INSERT one adds the new row's. An
// explicit UPDATE or DELETE of a sheet is tallied too. Every tally is a
// sum, so a run's tallies always equal a count over its sheets
// (TestTalliesFollowSheets). cost_known and tokens_known are 0 or 1. The
// triggers are short on purpose: they are compiled with every statement
// that writes a sheet.
const tallyMigration = `CREATE TABLE run_tallies (
		run_key       TEXT PRIMARY KEY REFERENCES jobs (run_key) ON DELETE CASCADE,
		completed     INTEGER NOT NULL DEFAULT 0,
		failed        INTEGER NOT NULL DEFAULT 0,
		cost_usd      REAL NOT NULL DEFAULT 0,
		cost_reports  INTEGER NOT NULL DEFAULT 0,
		input_tokens  INTEGER NOT NULL DEFAULT 0,
		output_tokens INTEGER NOT NULL DEFAULT 0,
		token_reports INTEGER NOT NULL DEFAULT 0
	) WITHOUT ROWID;
	INSERT INTO run_tallies SELECT j.run_key,
		coalesce(sum(s.status = 'completed'), 0), coalesce(sum(s.status = 'failed'), 0),
		coalesce(sum(CASE WHEN s.cost_known THEN s.cost_usd ELSE 0 END), 0), coalesce(sum(s.cost_known != 0), 0),
		coalesce(sum(CASE WHEN s.tokens_known THEN s.input_tokens ELSE 0 END), 0),
		coalesce(sum(CASE WHEN s.tokens_known THEN s.output_tokens ELSE 0 END), 0), coalesce(sum(s.tokens_known != 0), 0)
		FROM jobs j LEFT JOIN sheets s ON s.run_key = j.run_key GROUP BY j.run_key;
	CREATE TRIGGER jobs_tally_row AFTER INSERT ON jobs BEGIN
		INSERT OR IGNORE INTO run_tallies (run_key) VALUES (NEW.run_key);
	END;
	CREATE TRIGGER sheets_tally_replace BEFORE INSERT ON sheets BEGIN
		UPDATE run_tallies SET completed = run_tallies.completed - (o.status = 'completed'), failed = run_tallies.failed - (o.status = 'failed'),
			cost_usd = run_tallies.cost_usd - o.cost_usd * o.cost_known, cost_reports = run_tallies.cost_reports - o.cost_known,
			input_tokens = run_tallies.input_tokens - o.input_tokens * o.tokens_known,
			output_tokens = run_tallies.output_tokens - o.output_tokens * o.tokens_known, token_reports = run_tallies.token_reports - o.tokens_known
		FROM sheets o WHERE o.run_key = NEW.run_key AND o.num = NEW.num AND run_tallies.run_key = NEW.run_key;
	END;
	CREATE TRIGGER sheets_tally_insert AFTER INSERT ON sheets BEGIN
		UPDATE run_tallies SET completed = completed + (NEW.status = 'completed'), failed = failed + (NEW.status = 'failed'),
			cost_usd = cost_usd + NEW.cost_usd * NEW.cost_known, cost_reports = cost_reports + NEW.cost_known,
			input_tokens = input_tokens + NEW.input_tokens * NEW.tokens_known,
			output_tokens = output_tokens + NEW.output_tokens * NEW.tokens_known, token_reports = token_reports + NEW.tokens_known
		WHERE run_key = NEW.run_key;
	END;
	CREATE TRIGGER sheets_tally_update AFTER UPDATE ON sheets BEGIN
		UPDATE run_tallies SET completed = completed - (OLD.status = 'completed'), failed = failed - (OLD.status = 'failed'),
			cost_usd = cost_usd - CASE WHEN OLD.cost_known THEN OLD.cost_usd ELSE 0 END,
			cost_reports = cost_reports - (OLD.cost_known != 0),
			input_tokens = input_tokens - CASE WHEN OLD.tokens_known THEN OLD.input_tokens ELSE 0 END,
			output_tokens = output_tokens - CASE WHEN OLD.tokens_known THEN OLD.output_tokens ELSE 0 END,
			token_reports = token_reports - (OLD.tokens_known != 0)
		WHERE run_key = OLD.run_key;
		UPDATE run_tallies SET completed = completed + (NEW.status = 'completed'), failed = failed + (NEW.status = 'failed'),
			cost_usd = cost_usd + CASE WHEN NEW.cost_known THEN NEW.cost_usd ELSE 0 END,
			cost_reports = cost_reports + (NEW.cost_known != 0),
			input_tokens = input_tokens + CASE WHEN NEW.tokens_known THEN NEW.input_tokens ELSE 0 END,
			output_tokens = output_tokens + CASE WHEN NEW.tokens_known THEN NEW.output_tokens ELSE 0 END,
			token_reports = token_reports + (NEW.tokens_known != 0)
		WHERE run_key = NEW.run_key;
	END;
	CREATE TRIGGER sheets_tally_delete AFTER DELETE ON sheets BEGIN
		UPDATE run_tallies SET completed = completed - (OLD.status = 'completed'), failed = failed - (OLD.status = 'failed'),
			cost_usd = cost_usd - CASE WHEN OLD.cost_known THEN OLD.cost_usd ELSE 0 END,
			cost_reports = cost_reports - (OLD.cost_known != 0),
			input_tokens = input_tokens - CASE WHEN OLD.tokens_known THEN OLD.input_tokens ELSE 0 END,
			output_tokens = output_tokens - CASE WHEN OLD.tokens_known THEN OLD.output_tokens ELSE 0 END,
			token_reports = token_reports - (OLD.tokens_known != 0)
		WHERE run_key = OLD.run_key;
	END;
	CREATE INDEX jobs_by_created ON jobs (created_at, job_id);`
