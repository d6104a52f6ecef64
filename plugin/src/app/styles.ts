import { css } from '@emotion/css';
import { GrafanaTheme2 } from '@grafana/data';

export const getStyles = (theme: GrafanaTheme2) => ({
  bar: css({ display: 'flex', gap: theme.spacing(2), alignItems: 'flex-end', flexWrap: 'wrap', marginBottom: theme.spacing(2) }),
  table: css({
    width: '100%',
    borderCollapse: 'collapse',
    marginBottom: theme.spacing(2),
    'th, td': { padding: theme.spacing(0.75, 1), borderBottom: `1px solid ${theme.colors.border.weak}`, textAlign: 'left', verticalAlign: 'top' },
    th: { color: theme.colors.text.secondary, fontWeight: theme.typography.fontWeightMedium },
  }),
  overdue: css({ color: theme.colors.error.text, fontWeight: theme.typography.fontWeightBold }),
  ok: css({ color: theme.colors.success.text }),
  muted: css({ color: theme.colors.text.secondary }),
  section: css({ marginBottom: theme.spacing(3) }),
  h: css({ fontSize: theme.typography.h4.fontSize, margin: theme.spacing(0, 0, 1) }),
  grid: css({ display: 'grid', gridTemplateColumns: 'max-content 1fr', gap: theme.spacing(0.5, 2) }),
  form: css({ maxWidth: 720 }),
  nowrap: css({ whiteSpace: 'nowrap' }),
  link: css({ color: theme.colors.text.link, textDecoration: 'underline' }),
  preview: css({
    background: theme.colors.background.secondary,
    padding: theme.spacing(2),
    borderRadius: theme.shape.radius.default,
    marginBottom: theme.spacing(2),
  }),
});
