"""The console's words in English and Chinese (simplified). A missing key is a test failure, not a blank."""

from __future__ import annotations

from typing import Literal

Lang = Literal["en", "zh-CN"]
LANGS: tuple[Lang, ...] = ("en", "zh-CN")

WORDS: dict[str, tuple[str, str]] = {
    "app": ("csp-guard console", "csp-guard 控制台"),
    "portfolio": ("Portfolio", "客户组合"),
    "approvals": ("Approvals", "审批"),
    "fraud": ("Fraud cases", "欺诈案例"),
    "messages": ("Dead letters", "死信消息"),
    "policy": ("Policy", "收款政策"),
    "forecast": ("Forecast", "预测"),
    "signed_in_as": ("Signed in as", "当前用户"),
    "roles": ("roles", "角色"),
    "no_roles": ("no roles", "无角色"),
    "sign_out": ("Sign out", "退出"),
    "local_banner": ("LOCAL DEVELOPMENT SIGN-IN (not Entra ID)", "本地开发登录（非 Entra ID）"),
    "by_stage": ("Customers by stage", "按阶段划分的客户"),
    "stage": ("Stage", "阶段"),
    "no_stage": ("no stage (current)", "无阶段（正常）"),
    "customers": ("Customers", "客户"),
    "customer": ("Customer", "客户"),
    "overdue": ("Overdue", "逾期金额"),
    "ageing": ("AR ageing (open invoices, days past due)", "应收账龄（未结发票，逾期天数）"),
    "bucket_current": ("current", "未到期"),
    "days_past_due": ("Days past due", "逾期天数"),
    "name": ("Name", "名称"),
    "page": ("Page", "页"),
    "of": ("of", "共"),
    "previous": ("Previous", "上一页"),
    "next": ("Next", "下一页"),
    "pending": ("Pending", "待审批"),
    "decided": ("Decided", "已决定"),
    "key": ("Key", "键"),
    "why": ("Why", "原因"),
    "requested_at": ("Requested", "申请时间"),
    "requested_by": ("Requested by", "申请人"),
    "decided_by": ("Decided by", "决定人"),
    "approve": ("Approve", "批准"),
    "reject": ("Reject", "拒绝"),
    "note": ("Note", "备注"),
    "reason": ("Reason", "原因"),
    "nothing": ("Nothing here.", "暂无内容。"),
    "profile": ("Profile", "客户资料"),
    "invoices": ("Invoices", "发票"),
    "invoice": ("Invoice", "发票"),
    "due": ("Due", "到期日"),
    "amount": ("Amount", "金额"),
    "open": ("Open", "未结"),
    "paid": ("Paid", "已付"),
    "decision": ("What a sweep would do now", "催收引擎当前的决定"),
    "blocked_by": ("Blocked by", "阻止原因"),
    "timeline": ("Timeline", "时间线"),
    "when": ("When", "时间"),
    "what": ("What", "事项"),
    "who": ("Who", "操作人"),
    "detail": ("Detail", "详情"),
    "notice_sent": ("notice sent", "已发送通知"),
    "pc_state": ("Verified Partner Center state (suspended by csp-guard)",
                 "已核实的 Partner Center 状态（由 csp-guard 暂停）"),
    "subscription": ("Subscription", "订阅"),
    "status": ("Status", "状态"),
    "overrides": ("Holds, exemptions and promises", "暂缓、豁免与付款承诺"),
    "actions": ("Actions", "操作"),
    "suspend": ("Suspend", "暂停"),
    "reactivate": ("Reactivate", "恢复"),
    "subscription_ids": ("Subscription ids (comma-separated)", "订阅 ID（逗号分隔）"),
    "all_subscriptions": ("all subscriptions", "全部订阅"),
    "set_hold": ("Set hold", "设置暂缓"),
    "until": ("Until", "截止日期"),
    "exemption": ("Exemption", "豁免"),
    "promise": ("Promise to pay", "付款承诺"),
    "hold": ("Hold", "暂缓"),
    "approver": ("Approved by", "批准人"),
    "set_exemption": ("Set exemption", "设置豁免"),
    "promised_date": ("Promised date", "承诺付款日"),
    "set_promise": ("Record promise", "记录付款承诺"),
    "signals": ("Signals", "信号"),
    "evidence": ("Evidence", "证据"),
    "containment": ("Containment", "遏制措施"),
    "pending_containment": ("Containment waiting for approval", "待批准的遏制措施"),
    "approve_containment": ("Approve containment", "批准遏制"),
    "resolve_legitimate": ("Resolve: legitimate", "结案：正常使用"),
    "resolve_fraud": ("Resolve: fraud", "结案：欺诈"),
    "service_request": ("21Vianet service request", "世纪互联服务请求"),
    "ticket_number": ("21Vianet ticket number", "世纪互联工单号"),
    "record_ticket": ("Record ticket", "记录工单"),
    "add_note": ("Add note", "添加备注"),
    "queue": ("Queue", "队列"),
    "received": ("Received", "接收时间"),
    "body": ("Message", "消息内容"),
    "replay": ("Replay", "重放"),
    "discard": ("Discard", "丢弃"),
    "no_forecast": ("No forecast is available in this deployment yet.", "当前部署尚无预测。"),
    "forecast_title": ("The next 30 days", "未来 30 天"),
    "view_case": ("Fraud case", "欺诈案例"),
    "done": ("Done", "完成"),
    "failed": ("Failed", "失败"),
    "read_only": ("Your roles let you read only.", "您的角色仅允许查看。"),
    "approval_pending": ("waiting for approval", "等待审批"),
    "outcome": ("Outcome", "结果"),
    "opened": ("Opened", "创建时间"),
    "language": ("中文", "English"),
}


def translate(key: str, lang: Lang) -> str:
    en, zh = WORDS[key]
    return zh if lang == "zh-CN" else en


def pick_lang(query: str | None, cookie: str | None, accept: str | None) -> Lang:
    """?lang= wins, then the cookie, then the browser's Accept-Language (zh* means Chinese), else English."""
    for value in (query, cookie):
        if value in LANGS:
            return value  # type: ignore[return-value]
    return "zh-CN" if (accept or "").strip().lower().startswith("zh") else "en"
