package store

// tallyMigration adds to every run its sheets' tallies (completed, failed,
// reported cost and tokens, and how many sheets reported each), fills them
// from the sheets already stored, and keeps them with triggers.
//
// Sheets are written with INSERT OR REPLACE, whose implicit delete fires no
// delete trigger (recursive_triggers is off), so a BEFORE INSERT trigger
// takes the replaced row's share out first. An explicit UPDATE or DELETE
// of a sheet is tallied too. Every tally is a sum, so the order in which
// sheets change does not matter, and a run's tallies always equal a count
// over its sheets (TestTalliesFollowSheets).
const tallyMigration = `ALTER TABLE jobs ADD COLUMN tally_completed INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN tally_failed INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN tally_cost_usd REAL NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN tally_cost_reports INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN tally_input_tokens INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN tally_output_tokens INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN tally_token_reports INTEGER NOT NULL DEFAULT 0;
	UPDATE jobs SET (tally_completed, tally_failed, tally_cost_usd, tally_cost_reports,
		tally_input_tokens, tally_output_tokens, tally_token_reports) = (
		SELECT coalesce(sum(s.status = 'completed'), 0), coalesce(sum(s.status = 'failed'), 0),
			coalesce(sum(CASE WHEN s.cost_known THEN s.cost_usd ELSE 0 END), 0), coalesce(sum(s.cost_known != 0), 0),
			coalesce(sum(CASE WHEN s.tokens_known THEN s.input_tokens ELSE 0 END), 0),
			coalesce(sum(CASE WHEN s.tokens_known THEN s.output_tokens ELSE 0 END), 0), coalesce(sum(s.tokens_known != 0), 0)
		FROM sheets s WHERE s.run_key = jobs.run_key);
	CREATE TRIGGER sheets_tally_insert AFTER INSERT ON sheets BEGIN
		UPDATE jobs SET tally_completed = tally_completed + (NEW.status = 'completed'),
			tally_failed = tally_failed + (NEW.status = 'failed'),
			tally_cost_usd = tally_cost_usd + CASE WHEN NEW.cost_known THEN NEW.cost_usd ELSE 0 END,
			tally_cost_reports = tally_cost_reports + (NEW.cost_known != 0),
			tally_input_tokens = tally_input_tokens + CASE WHEN NEW.tokens_known THEN NEW.input_tokens ELSE 0 END,
			tally_output_tokens = tally_output_tokens + CASE WHEN NEW.tokens_known THEN NEW.output_tokens ELSE 0 END,
			tally_token_reports = tally_token_reports + (NEW.tokens_known != 0)
		WHERE run_key = NEW.run_key;
	END;
	CREATE TRIGGER sheets_tally_replace BEFORE INSERT ON sheets BEGIN
		UPDATE jobs SET tally_completed = tally_completed - (o.status = 'completed'),
			tally_failed = tally_failed - (o.status = 'failed'),
			tally_cost_usd = tally_cost_usd - CASE WHEN o.cost_known THEN o.cost_usd ELSE 0 END,
			tally_cost_reports = tally_cost_reports - (o.cost_known != 0),
			tally_input_tokens = tally_input_tokens - CASE WHEN o.tokens_known THEN o.input_tokens ELSE 0 END,
			tally_output_tokens = tally_output_tokens - CASE WHEN o.tokens_known THEN o.output_tokens ELSE 0 END,
			tally_token_reports = tally_token_reports - (o.tokens_known != 0)
		FROM (SELECT status, cost_known, cost_usd, tokens_known, input_tokens, output_tokens
			FROM sheets WHERE run_key = NEW.run_key AND num = NEW.num) AS o
		WHERE jobs.run_key = NEW.run_key;
	END;
	CREATE TRIGGER sheets_tally_update AFTER UPDATE ON sheets BEGIN
		UPDATE jobs SET tally_completed = tally_completed - (OLD.status = 'completed'),
			tally_failed = tally_failed - (OLD.status = 'failed'),
			tally_cost_usd = tally_cost_usd - CASE WHEN OLD.cost_known THEN OLD.cost_usd ELSE 0 END,
			tally_cost_reports = tally_cost_reports - (OLD.cost_known != 0),
			tally_input_tokens = tally_input_tokens - CASE WHEN OLD.tokens_known THEN OLD.input_tokens ELSE 0 END,
			tally_output_tokens = tally_output_tokens - CASE WHEN OLD.tokens_known THEN OLD.output_tokens ELSE 0 END,
			tally_token_reports = tally_token_reports - (OLD.tokens_known != 0)
		WHERE run_key = OLD.run_key;
		UPDATE jobs SET tally_completed = tally_completed + (NEW.status = 'completed'),
			tally_failed = tally_failed + (NEW.status = 'failed'),
			tally_cost_usd = tally_cost_usd + CASE WHEN NEW.cost_known THEN NEW.cost_usd ELSE 0 END,
			tally_cost_reports = tally_cost_reports + (NEW.cost_known != 0),
			tally_input_tokens = tally_input_tokens + CASE WHEN NEW.tokens_known THEN NEW.input_tokens ELSE 0 END,
			tally_output_tokens = tally_output_tokens + CASE WHEN NEW.tokens_known THEN NEW.output_tokens ELSE 0 END,
			tally_token_reports = tally_token_reports + (NEW.tokens_known != 0)
		WHERE run_key = NEW.run_key;
	END;
	CREATE TRIGGER sheets_tally_delete AFTER DELETE ON sheets BEGIN
		UPDATE jobs SET tally_completed = tally_completed - (OLD.status = 'completed'),
			tally_failed = tally_failed - (OLD.status = 'failed'),
			tally_cost_usd = tally_cost_usd - CASE WHEN OLD.cost_known THEN OLD.cost_usd ELSE 0 END,
			tally_cost_reports = tally_cost_reports - (OLD.cost_known != 0),
			tally_input_tokens = tally_input_tokens - CASE WHEN OLD.tokens_known THEN OLD.input_tokens ELSE 0 END,
			tally_output_tokens = tally_output_tokens - CASE WHEN OLD.tokens_known THEN OLD.output_tokens ELSE 0 END,
			tally_token_reports = tally_token_reports - (OLD.tokens_known != 0)
		WHERE run_key = OLD.run_key;
	END;
	CREATE INDEX jobs_by_created ON jobs (created_at, job_id);`
