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
