package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/minewatch/minewatch/alerts"
	"github.com/minewatch/minewatch/exporter/ledger"
)

// `minewatch alerts render`: the Alertmanager configuration from the unit ledger.
var (
	alertsCmd       = app.Command("alerts", "Alert routing (告警路由).")
	alertsRenderCmd = alertsCmd.Command("render", "Write an Alertmanager configuration that emails each unit's lead (按单位负责人生成 Alertmanager 配置).")

	alertsLedger       = alertsRenderCmd.Flag("ledger", "Unit ledger: YAML/CSV file or directory (单位台账); repeatable.").Required().Strings()
	alertsOut          = alertsRenderCmd.Flag("out", "Where to write alertmanager.yml; the email template is written next to it.").Default("alertmanager.yml").String()
	alertsRulesDir     = alertsRenderCmd.Flag("rules-dir", "Where to write the vmalert rule files (cases.yml generated from the campaign definition, exporter.yml); empty: do not write them.").Default("rules").String()
	alertsSMTP         = alertsRenderCmd.Flag("smtp", "SMTP server host:port.").Required().String()
	alertsFrom         = alertsRenderCmd.Flag("from", "Sender address.").Default("minewatch@localhost").String()
	alertsSMTPUser     = alertsRenderCmd.Flag("smtp-user", "SMTP AUTH user (empty: no authentication).").String()
	alertsSMTPPassEnv  = alertsRenderCmd.Flag("smtp-password-env", "Environment variable holding the SMTP password; it is written to "+alerts.PasswordFileName+" (mode 0600) next to --out and named by smtp_auth_password_file, never put in the configuration.").Default("MINEWATCH_SMTP_PASSWORD").String()
	alertsSMTPPassFile = alertsRenderCmd.Flag("smtp-password-file", "Absolute path of a file holding the SMTP password, managed by you (instead of --smtp-password-env).").String()
	alertsRequireTLS   = alertsRenderCmd.Flag("smtp-require-tls", "Require STARTTLS.").Bool()
	alertsBureau       = alertsRenderCmd.Flag("bureau-email", "Bureau address: overdue cases, repeated relapses, pipeline health (教育局/信息中心邮箱).").Required().String()
	alertsBureauName   = alertsRenderCmd.Flag("bureau-name", "Who receives the written reports, named in every case email (报告接收单位).").Default("教育局信息中心").String()
	alertsBureauPhone  = alertsRenderCmd.Flag("bureau-phone", "Phone number for unit leads, printed with the bureau's address (联系电话).").String()
	alertsGrafana      = alertsRenderCmd.Flag("grafana-url", "Grafana address for the links in the emails, e.g. https://grafana.edu.example; empty: no links.").String()
	alertsWeComCorp    = alertsRenderCmd.Flag("wecom-corp-id", "企业微信 corp id: also send every alert to this WeCom application (with --wecom-agent-id, --wecom-secret-file and --wecom-to-party or --wecom-to-user).").String()
	alertsWeComAgent   = alertsRenderCmd.Flag("wecom-agent-id", "企业微信 application AgentId.").String()
	alertsWeComSecret  = alertsRenderCmd.Flag("wecom-secret-file", "File holding the WeCom application secret (Alertmanager 0.25 takes it only inline: the configuration is written mode 0600).").String()
	alertsWeComParty   = alertsRenderCmd.Flag("wecom-to-party", "WeCom department id(s), |-separated.").String()
	alertsWeComUser    = alertsRenderCmd.Flag("wecom-to-user", "WeCom member account(s), |-separated, or @all.").String()
	alertsGroupWait    = alertsRenderCmd.Flag("group-wait", "Wait before the first email of a group.").Default("30s").Duration()
	alertsRepeat       = alertsRenderCmd.Flag("repeat-interval", "Resend an unresolved alert after this long.").Default("12h").Duration()
)

func init() {
	commands[alertsRenderCmd.FullCommand()] = runAlertsRender
}

func runAlertsRender() error {
	led, err := ledger.Load(*alertsLedger, nil)
	if err != nil {
		return err
	}
	units := alerts.LedgerUnits(led)
	var wecom *alerts.WeCom
	if *alertsWeComCorp != "" {
		secret, err := os.ReadFile(*alertsWeComSecret)
		if err != nil {
			return fmt.Errorf("--wecom-secret-file: %w", err)
		}
		wecom = &alerts.WeCom{CorpID: *alertsWeComCorp, AgentID: *alertsWeComAgent, APISecret: strings.TrimSpace(string(secret)),
			ToParty: *alertsWeComParty, ToUser: *alertsWeComUser}
	}
	r, err := alerts.Render(units, alerts.Options{
		Smarthost:      *alertsSMTP,
		From:           *alertsFrom,
		Username:       *alertsSMTPUser,
		Password:       os.Getenv(*alertsSMTPPassEnv),
		PasswordFile:   *alertsSMTPPassFile,
		RequireTLS:     *alertsRequireTLS,
		BureauEmail:    *alertsBureau,
		BureauName:     *alertsBureauName,
		BureauPhone:    *alertsBureauPhone,
		GrafanaURL:     *alertsGrafana,
		WeCom:          wecom,
		GroupWait:      *alertsGroupWait,
		RepeatInterval: *alertsRepeat,
		GroupInterval:  5 * time.Minute,
	})
	if err != nil {
		return err
	}
	if err := r.WriteFiles(*alertsOut); err != nil {
		return err
	}
	if *alertsRulesDir != "" {
		written, err := alerts.WriteRules(*alertsRulesDir)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s\n", strings.Join(written, ", "))
	}
	var noLead []string
	for _, u := range units {
		if u.LeadEmail == "" {
			noLead = append(noLead, u.ID)
		}
	}
	fmt.Fprintf(os.Stderr, "wrote %s and %s: %d units, %d routed to their lead\n", *alertsOut, alerts.TemplateFile, len(units), len(units)-len(noLead))
	if len(noLead) > 0 {
		fmt.Fprintf(os.Stderr, "units without a lead email (their alerts go to %s): %s\n", *alertsBureau, strings.Join(noLead, ", "))
	}
	return nil
}
