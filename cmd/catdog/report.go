package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/report"
	"github.com/catdog-ml/catdog/runs"
)

func newReportCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Write the page comparing every run, and each run's own report",
		Long: `report reads every run folder under --runs (written by catdog train, catdog finetune or
catdog run) and writes:

  runs/index.md, runs/index.html   the leaderboard of every model, best test accuracy first
                                   (parameters, epochs, test accuracy, F1, ROC AUC, log loss,
                                   training time, the published result for that architecture),
                                   every run's validation curves on one chart, the ROC curves,
                                   and the models that were not run with the reason and the fix
  <run>/report.md, report.html     for runs that have none, or an outdated one (a run that was
                                   still training), and for all of them with --rewrite:
                                   configuration, architecture picture and layer table, loss and
                                   accuracy per epoch, the classification report, confusion
                                   matrix, ROC curve, the test photos it got most confidently wrong

The HTML pages are self-contained (pictures inline): open them in a browser, mail them,
publish them as they are. The Markdown pages use the PNG files beside them. The photos
come from the prepared dataset each run names in its config.json. See docs/reports.md.

Example:
  catdog report                          # runs/index.html
  catdog report --runs /tmp/runs --rewrite
  catdog report --run runs/vgg3-20261124-150200   # one run's report only`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runReport(a, cmd) },
	}
	cmd.Flags().String("runs", "runs", "folder holding the run folders")
	cmd.Flags().String("run", "", "write only this run folder's report")
	cmd.Flags().Bool("rewrite", false, "write every run's report again, not only the missing or outdated ones")
	cmd.Flags().Int("wrong", 12, "how many wrongly classified test photos to show per run (0: none)")
	a.bind(cmd)
	return cmd
}

func runReport(a *app, cmd *cobra.Command) error {
	get := func(k string) string { return "report." + k }
	opts := report.Options{
		OpenPhotos: func(dir string) (report.Photos, error) { return datasets.Open(dir) },
		Wrong:      a.v.GetInt(get("wrong")),
	}
	if opts.Wrong == 0 {
		opts.Wrong = -1
	}
	if run := a.v.GetString(get("run")); run != "" {
		if err := report.Write(run, opts); err != nil {
			return err
		}
		fmt.Fprintln(a.out, shownName(filepath.Join(run, runs.HTMLFile)))
		return nil
	}
	runsDir := a.v.GetString(get("runs"))
	var bar progressBar
	err := report.Index(cmd.Context(), runsDir, report.IndexOptions{
		Report:  opts,
		Rewrite: a.v.GetBool(get("rewrite")),
		Progress: func(done, total int) {
			if bar == nil {
				bar = a.progress(total, "reports", "")
			}
			_ = bar.Set(done)
		},
	})
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(a.out, shownName(filepath.Join(runsDir, report.IndexHTML)))
	return nil
}
