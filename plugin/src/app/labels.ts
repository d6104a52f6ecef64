// The app's words, Chinese first with English, and the campaign's values as staff read them.
export const T = {
  myCases: '我的待办 My cases',
  casePage: '案件 Case',
  report: '书面报告 Written report',
  pack: '周会材料 Meeting pack',
  unit: '单位 Unit',
  allUnits: '全部单位 All units',
  show: '显示 Show',
  open: '待办 Open',
  all: '全部 All',
  ip: 'IP',
  source: '来源 Source',
  state: '状态 State',
  device: '设备 Device',
  person: '责任人 Person',
  opened: '立案 Opened',
  locateDue: '48小时定位 Locate (48 h)',
  reportDue: '72小时报告 Report (72 h)',
  score: '评分 Score',
  noCases: '没有待办案件 / no open cases',
  loading: '加载中 Loading…',
  back: '返回待办 Back to my cases',
  deadlines: '时限 Deadlines',
  evidence: '证据 Evidence',
  reasons: '理由 Reasons',
  points: '分值 Points',
  firstSeen: '首次发现 First seen',
  lastSeen: '最近发现 Last seen',
  timeline: '处置时间线 Timeline',
  at: '时间 Time',
  stage: '环节 Stage',
  class: '性质 Class',
  note: '说明 Note',
  author: '记录人 Recorded by',
  via: '途径 Via',
  notices: '上级通报 Upstream notices',
  noticeNumber: '通报编号 Notice',
  egress: '出口地址 Egress',
  window: '时段 Window',
  remote: '远端 Remote',
  receivedAt: '收到 Received',
  trace: '溯源 Trace',
  link: '环节 Link',
  value: '结果 Value',
  how: '依据 How',
  confidence: '可信度 Confidence',
  attachments: '附件 Attachments',
  noAttachments: '暂无附件 / no attachments',
  download: '下载 Download',
  audit: '审计 Audit',
  auditOk: '审计链完整 Audit chain intact',
  auditBroken: '审计链被改动 Audit chain broken',
  record: '记录处置 Record a disposition',
  save: '提交 Submit',
  saved: '已记录 Recorded',
  chooseClass: '请选择性质（主动 / 被动 / 科研）/ choose a class',
  writeReport: '填写书面报告 Write the report',
  preview: '报告预览 Preview',
  cause: '原因 Cause',
  measures: '整改措施 Measures',
  reporter: '填报人 Reporter',
  phone: '电话 Phone',
  downloadDocx: '生成并下载 DOCX / Generate DOCX',
  generated: '报告已生成，已列入附件 / report generated and listed under attachments',
  required: '必填 Required',
  badPhone: '电话号码格式不对 / not a phone number',
  week: '周 Week',
  scope: '范围 Scope',
  district: '区县 District',
  format: '格式 Format',
  downloadPack: '下载 Download',
  user: '当前用户 Signed in as',
  bureau: '教育局 Bureau',
  none: '—',
} as const;

export const STAGES = [
  { value: 'located', label: '已定位 located' },
  { value: 'reported', label: '已报告 reported' },
  { value: 'closed', label: '已关闭 closed' },
] as const;

export const CLASSES = [
  { value: '主动', label: '主动 active' },
  { value: '被动', label: '被动 passive' },
  { value: '科研', label: '科研 research' },
] as const;

const STATE_LABELS: Record<string, string> = {
  open: '待定位 open',
  new: '新增 new',
  active: '挖矿中 active',
  located: '已定位 located',
  reported: '已报告 reported',
  closed: '已关闭 closed',
  cleared: '已清零 cleared',
  relapsed: '反复 relapsed',
  quiet: '静默观察 quiet',
};

const SOURCE_LABELS: Record<string, string> = {
  detected: '监测发现 detected',
  notice: '上级通报 notice',
  manual: '手工登记 manual',
};

const CLASS_LABELS: Record<string, string> = {
  主动: '主动 active',
  被动: '被动 passive',
  科研: '科研 research',
  active: '主动 active',
  passive: '被动 passive',
  research: '科研 research',
};

const STAGE_LABELS: Record<string, string> = {
  opened: '立案 opened',
  located: '已定位 located',
  reported: '已报告 reported',
  closed: '已关闭 closed',
  reopened: '重新打开 reopened',
  notice: '收到通报 notice',
};

// The trace's links and how sure each is (plugin/pkg/trace: Step*, lease.Certainty), and where a
// disposition was recorded (plugin/pkg/casestore: Via*).
const TRACE_LABELS: Record<string, string> = {
  unit: '单位 unit',
  host: '内网主机 host',
  mac: 'MAC地址 MAC',
  account: '上网账号 account',
  device: '设备 device',
  person: '责任人 person',
};

const CONFIDENCE_LABELS: Record<string, string> = {
  exact: '确定 exact',
  nearest: '最近记录 nearest',
  ambiguous: '有歧义 ambiguous',
  none: '无记录 none',
};

const VIA_LABELS: Record<string, string> = {
  grafana: 'Grafana 页面 app',
  cli: '命令行 CLI',
};

const label = (m: Record<string, string>) => (v?: string) => (v ? (m[v] ?? v) : '—');
export const stateLabel = label(STATE_LABELS);
export const sourceLabel = label(SOURCE_LABELS);
export const classLabel = label(CLASS_LABELS);
export const stageLabel = label(STAGE_LABELS);
export const traceLabel = label(TRACE_LABELS);
export const confidenceLabel = label(CONFIDENCE_LABELS);
export const viaLabel = label(VIA_LABELS);

// The configuration page (Administration → Plugins → minewatch → 配置 Configuration).
export const C = {
  pageTitle: '配置 Configuration',
  enableLegend: '启用 Enable',
  enable: '启用 minewatch 应用 / Enable the app',
  enableHelp: '停用后，我的待办、案件、周会材料等页面从 Grafana 菜单中移除，数据源和仪表盘不受影响 / when disabled the app pages leave the menu; the datasource and dashboards keep working',
  dsLegend: '数据源 Datasource',
  ds: 'minewatch 数据源 / minewatch datasource',
  dsHelp: '只列出 minewatch 挖矿监测 (minewatch-mining-datasource) 类型的数据源；应用的页面通过它的后端读写案件。不选时用部署预置的 uid minewatch，否则第一个 / only minewatch-mining-datasource instances; the pages read and write cases through its backend. Unset: the provisioned uid minewatch, else the first',
  dsNone: '还没有 minewatch-mining-datasource 数据源：先在 连接 → 数据源 中添加 / no minewatch datasource yet: add one under Connections → Data sources',
  dsDefault: '未单独设置，当前使用 / not set, using',
  save: '保存设置 Save settings',
  saving: '保存中 Saving…',
  saveFailed: '保存失败 Save failed',
  statusLegend: '连接状态 Status',
  recheck: '重新检查 Check again',
  checking: '检查中 Checking…',
  vm: 'VictoriaMetrics 时序库',
  store: '案件库 Case store',
  ledger: '台账 Ledger',
  ok: '正常 OK',
  notSet: '未配置 not set',
  failed: '异常 failing',
  fix: '处理 Fix',
  dsGone: 'Grafana 中没有这个数据源 / no such datasource in Grafana',
  backendDown: '数据源后端没有回应 / the datasource backend did not answer',
  backendDownFix: '常见原因：caseStore 打不开（目录不可写、PostgreSQL 地址或密码错），或 ledgerFiles 读不到；请查看 Grafana 服务器日志中 minewatch 的报错，在数据源设置中改正 / usually caseStore cannot be opened or ledgerFiles cannot be read: see the Grafana server log, fix it in the datasource settings',
  vmFix: '在数据源设置中检查 URL（VictoriaMetrics 或 vmselect 地址，含租户前缀），确认 Grafana 服务器能访问它 / check the URL in the datasource settings and that the Grafana server reaches it',
  storeUnsetFix: '在数据源设置中填写 caseStore（SQLite 文件路径，或 postgres:// 地址；密码放 caseStoreURL）/ set caseStore in the datasource settings',
  storeFailFix: '检查 caseStore：SQLite 文件所在目录 Grafana 可写，或 PostgreSQL 可达、账号密码正确 / check caseStore: the SQLite directory writable by Grafana, or PostgreSQL reachable with the right credentials',
  ledgerUnsetFix: '在数据源设置中填写 ledgerFiles（单位台账，units[].lead.email 写负责人的 Grafana 邮箱）/ set ledgerFiles, with each unit lead\'s Grafana email in units[].lead.email',
  ledgerNoLeadFix: '在台账 units[].lead.email 中填写各单位负责人在 Grafana 中的邮箱 / put each unit lead\'s Grafana email in units[].lead.email',
  you: '你在此数据源中的身份 / you in this datasource',
  rolesLegend: '谁能看到什么 Who sees what',
  bureauRole: '教育局人员 Bureau staff',
  bureauWho: 'Grafana 组织角色为 Admin，或登录名/邮箱列在数据源设置 bureauUsers 中：看到数据源范围内所有单位的案件 / org role Admin, or login or email in the datasource setting bureauUsers: every unit in scope',
  leadRole: '单位负责人 Unit lead',
  leadWho: 'Grafana 账号的邮箱与台账中某单位的 units[].lead.email 相同（不区分大小写）：只看到、只处置本单位的案件 / the Grafana user\'s email equals a unit\'s units[].lead.email in the ledger: that unit only',
  othersRole: '其他用户 Others',
  othersWho: '看不到任何案件；Viewer 只能查看，登记处置需要 Editor 或 Admin / see no case; Viewers read only, recording needs Editor or Admin',
  dsSettings: '打开数据源设置 Open the datasource settings',
  openApp: '打开 我的待办 Open my cases',
} as const;
