"""The maturity questionnaire as data: six ITIL 4 practices, each asked five or six questions on a 1 to 5 scale.

Each question describes its five levels concretely, in the spirit of CMMI maturity levels: 1 Initial (ad hoc,
depends on people), 2 Repeatable (done, but not the same way twice), 3 Defined (documented and followed),
4 Managed (measured against targets), 5 Optimising (continually improved from measured outcomes).

Question ids ("incident.logging") are stored in assessments' answers: never rename or reuse one. Retire a
question by removing it; old answers to it stay in the assessments that gave them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

LEVELS = (1, 2, 3, 4, 5)
LEVEL_NAMES = {1: "Initial", 2: "Repeatable", 3: "Defined", 4: "Managed", 5: "Optimising"}


@dataclass(frozen=True)
class Question:
    """One question of a practice, with what each level 1 to 5 looks like for it."""

    id: str
    text: str
    levels: tuple[str, str, str, str, str]

    def describe(self, level: int) -> str:
        return self.levels[level - 1]


@dataclass(frozen=True)
class Practice:
    """An ITIL 4 practice and the questions that assess it."""

    key: str
    label: str
    questions: tuple[Question, ...]

    @property
    def chart_label(self) -> str:
        """The label without "management": short enough for the axis of a chart ("Service catalogue")."""
        return self.label.removesuffix(" management")

    @property
    def question_ids(self) -> tuple[str, ...]:
        return tuple(q.id for q in self.questions)


def _q(id: str, text: str, *levels: str) -> Question:
    assert len(levels) == 5, id
    return Question(id, text, (levels[0], levels[1], levels[2], levels[3], levels[4]))


INCIDENT = Practice("incident", "Incident management", (
    _q("incident.logging", "How are incidents logged and categorised?",
       "Incidents arrive by phone, chat and in the corridor; many are fixed without a record, and categories, "
       "if any, are free text.",
       "The service desk logs most incidents, but some channels bypass it and each agent categorises in their "
       "own way.",
       "Every incident from every channel is logged in one tool, with a shared category tree and the affected "
       "service recorded.",
       "Logging completeness and categorisation accuracy are checked by regular sampling; miscategorised "
       "tickets are counted and corrected.",
       "Categories and intake (forms, event monitoring) are redesigned when analysis of reassignments and "
       "trends shows the data no longer serves diagnosis or reporting."),
    _q("incident.priority", "How is priority set?",
       "Priority is whatever the caller or the agent feels; the loudest request goes first.",
       "Agents follow rules of thumb for obvious emergencies, but the same incident gets different "
       "priorities from different agents.",
       "Priority follows a documented impact and urgency matrix tied to business services, with VIP and "
       "security cases written down.",
       "Priority is audited: how often it is changed, and how it compared with the actual business impact, "
       "is measured and reported to service owners.",
       "The matrix and the criticality of services are tuned with the business from measured outcomes "
       "(breaches, complaints, cost of outages)."),
    _q("incident.major", "How are major incidents handled?",
       "Nobody declares a major incident; whoever is around tries to fix it and management hears about it "
       "afterwards.",
       "Experienced staff recognise a big outage and call the people they know, but roles and communication "
       "differ every time.",
       "A documented procedure defines when to declare a major incident, who leads it, the bridge, the "
       "communication rhythm and the review afterwards.",
       "The procedure is rehearsed; time to declare, to mobilise and to restore are measured against targets "
       "and every major incident gets a post-incident review.",
       "Actions from post-incident reviews are followed to completion and their effect on recurrence and "
       "restoration time is measured and fed back into design and monitoring."),
    _q("incident.communication", "How is the customer kept informed?",
       "Customers chase the desk to find out what is happening; what they hear depends on who answers.",
       "Agents update customers when they remember or when asked, mostly by phone or personal e-mail.",
       "Customers are notified when their incident is logged, assigned and resolved, see its status on the "
       "portal, and update intervals per priority are defined.",
       "Update intervals are targets that are measured, and satisfaction with communication is surveyed and "
       "reported.",
       "Templates, channels and status pages are improved from survey feedback and complaints; customers are "
       "told about known outages before they call."),
    _q("incident.resolution", "How are incidents diagnosed, escalated and resolved?",
       "Each agent solves things their own way; escalation means asking a colleague who might know.",
       "Known fixes live in people's heads or personal notes; escalation paths exist for some teams only.",
       "Functional and hierarchical escalation are defined through assignment groups and resolution targets; "
       "agents resolve with known errors and knowledge articles.",
       "First-contact resolution, reassignments and time to resolve per service and group are measured "
       "against targets and reviewed with team leads.",
       "Where data shows reassignment loops or repeated work, fixes move to self-service or automation, or "
       "teams swarm, and the effect is measured."),
    _q("incident.improvement", "How is incident data used to improve?",
       "Nobody looks at incident data once tickets are closed.",
       "Ticket counts are reported now and then, usually after a complaint.",
       "Volume, target attainment and top categories are reported every month and reviewed with service "
       "owners.",
       "Trends and repeat incidents are analysed systematically and open problem records at agreed "
       "thresholds.",
       "Improvements are chosen from incident data, and their outcomes (fewer incidents, faster restoration, "
       "happier customers) are measured and fed back into the next choice."),
))

PROBLEM = Practice("problem", "Problem management", (
    _q("problem.identification", "How are problems identified?",
       "A problem is raised only when someone gets tired of fixing the same fault again.",
       "Problems are logged after major incidents, but recurring minor incidents go unnoticed.",
       "Defined triggers open problem records: every major incident, repeat incidents, supplier and "
       "monitoring information.",
       "Incident trends are analysed on a fixed cycle to find problems before they hurt; the share of "
       "incidents linked to a problem is measured.",
       "The triggers are adjusted from measured outcomes (incidents avoided, cost of recurring faults), and "
       "new sources such as event data are added when they prove useful."),
    _q("problem.analysis", "How is root cause analysis done?",
       "Causes are guessed; whatever made the symptom go away is taken as the cause.",
       "Skilled individuals investigate big problems, each with their own method and no shared record.",
       "Root cause analysis uses defined techniques (five whys, Ishikawa, timelines, fault trees) and the "
       "findings are recorded on the problem.",
       "Problems are prioritised by measured business impact, investigation capacity is planned, and the "
       "time and quality of analyses are reviewed.",
       "Methods and analysts' skills are improved from reviews of which analyses led to lasting fixes."),
    _q("problem.known_errors", "How are known errors and workarounds managed?",
       "Workarounds are passed on by word of mouth.",
       "Some workarounds are written down in team notes or e-mails that the service desk cannot easily find.",
       "Known errors and their workarounds are recorded in a known error database, linked to incidents and "
       "used by the service desk.",
       "Use of workarounds and its effect on resolution time are measured; known errors are reviewed for "
       "currency on a schedule.",
       "Much-used workarounds become self-service or automated fixes, or trigger a permanent solution; known "
       "errors are retired based on usage data."),
    _q("problem.resolution", "How are problems resolved and closed?",
       "Problems stay open for ever, or are closed without a fix.",
       "A permanent fix happens when a team has spare time or the pain gets too great.",
       "Permanent solutions go through change enablement; a problem is closed only once the fix is verified, "
       "or after a recorded decision not to fix it.",
       "Time to resolve problems and the incidents avoided after each fix are measured and reported to "
       "service owners.",
       "The problem backlog is managed as a portfolio: fixes are ranked by measured value, and the results "
       "of finished fixes decide which come next."),
    _q("problem.ownership", "Who owns problem management, and how are problems reviewed?",
       "Nobody is responsible for problems.",
       "Team leads look at problems in their own area when they have time.",
       "A problem manager is named and open problems are reviewed in a regular meeting with the technical "
       "teams.",
       "The practice has targets (age of the backlog, root causes found, incidents linked) reported to "
       "management.",
       "The practice is reviewed against its outcomes each period; its scope, roles and tools are adjusted "
       "and lessons are shared with other practices."),
))

CHANGE = Practice("change", "Change enablement", (
    _q("change.recording", "How are changes requested and recorded?",
       "Changes are made straight in production; a record, if any, is written afterwards.",
       "Large changes are announced by e-mail or in a meeting; small ones go unrecorded.",
       "Every change to a production service is recorded with its scope, affected services and "
       "configuration items, and its implementation and back-out plans.",
       "The share of changes recorded is measured against unauthorised changes detected, and every "
       "unauthorised change is followed up.",
       "Change records come from the deployment pipelines and the CMDB, and the process is simplified "
       "wherever data shows a step adds no value."),
    _q("change.types", "How are standard, normal and emergency changes told apart?",
       "Every change is handled the same way: informally.",
       "Urgent changes get a quick approval by phone; there is no list of low-risk changes.",
       "Standard (pre-authorised), normal and emergency changes are defined, with a catalogue of standard "
       "changes and their procedures.",
       "The mix of change types and the success rate of each are measured; every emergency change is "
       "reviewed afterwards.",
       "Changes with a proven record of success become standard changes, and the causes of emergency "
       "changes are removed based on measured trends."),
    _q("change.assessment", "How are risk and impact assessed and changes authorised?",
       "The person making the change decides whether it is safe.",
       "A manager approves changes from experience, without a shared view of risk.",
       "Risk and impact are assessed with a documented model, and change authorities are set by risk (peer "
       "review, change advisory board, emergency authority).",
       "Risk assessments are compared with actual outcomes (failures, incidents caused), and the lead time "
       "of approvals is measured.",
       "The risk model and authorities are recalibrated from measured outcomes, and low-risk changes are "
       "approved automatically where the evidence supports it."),
    _q("change.scheduling", "How are changes scheduled and communicated?",
       "Changes happen whenever the implementer is ready; users and the service desk find out from the "
       "fallout.",
       "Teams keep their own calendars; clashes are found by chance.",
       "A shared change schedule with maintenance windows and freeze periods is published, and the service "
       "desk and affected users are told in advance.",
       "Clashes, changes outside their window and missed notifications are measured and reviewed.",
       "Windows and scheduling rules are adjusted from the measured business impact of changes, with the "
       "stakeholders shaping how they are told."),
    _q("change.review", "How are changes reviewed after implementation?",
       "There is no review; a failed change is discovered through the incidents it causes.",
       "Failed changes are discussed informally when they caused a big outage.",
       "Every change is closed with its outcome (successful, failed, backed out), and failed and emergency "
       "changes get a post-implementation review.",
       "Change success rate, incidents caused by changes and back-outs are measured against targets per "
       "team and service.",
       "Review findings change how teams test, deploy and assess risk, and the resulting rise in the success "
       "rate is tracked."),
))

SERVICE_LEVEL = Practice("service_level", "Service level management", (
    _q("service_level.agreements", "How are service levels agreed with customers?",
       "No service levels are agreed; expectations stay implicit.",
       "Some services have targets that IT promised, without the business agreeing to them.",
       "Service level agreements for the key services are documented and agreed with customers, with "
       "measurable targets and responsibilities on both sides.",
       "Agreements cover every service in the catalogue, are reviewed on a schedule, and targets rest on "
       "measured business needs.",
       "Agreements move with the business: targets and measures change from outcome data and customer "
       "feedback rather than habit."),
    _q("service_level.measurement", "How is performance measured against the targets?",
       "Performance is not measured.",
       "Figures are compiled by hand when someone asks, often from different sources.",
       "Response, resolution and availability are measured automatically from the tools, with clear rules "
       "for business hours and pauses.",
       "Measurements are trusted and audited; targets at risk are flagged before they breach and escalations "
       "act on them.",
       "Measures grow from technical targets to experience and business outcomes, and the measures "
       "themselves are reviewed for usefulness."),
    _q("service_level.reporting", "How are service levels reported and reviewed with customers?",
       "Customers hear about service levels only when things go wrong.",
       "Reports are sent occasionally as raw statistics that customers do not read.",
       "Regular service reports in business language are discussed with each customer in service reviews.",
       "Reviews follow a standard agenda: trends, breaches explained, actions agreed and followed up.",
       "Reviews lead to agreed improvements whose effect on the customer's outcomes is measured and "
       "reported back."),
    _q("service_level.underpinning", "How are internal teams and suppliers aligned with the targets?",
       "Internal teams and suppliers have no targets linked to what customers were promised.",
       "Supplier contracts hold some targets, negotiated without regard to customer agreements.",
       "Operational level agreements and underpinning contracts are defined in line with the customer "
       "targets.",
       "Teams and suppliers are measured against their targets, and their part in each customer breach is "
       "traced.",
       "Internal targets and contracts are renegotiated from measured end-to-end performance and customer "
       "outcomes."),
    _q("service_level.experience", "How is customer experience captured?",
       "Nobody asks customers about their experience.",
       "Feedback arrives as complaints and escalations.",
       "Satisfaction surveys after tickets and periodic relationship surveys are run, and their results "
       "shared with the teams.",
       "Satisfaction and effort are tracked per service next to the technical targets, so green targets "
       "with unhappy customers are spotted.",
       "Experience data decides which improvements are made, and the change in experience after each one is "
       "measured."),
))

KNOWLEDGE = Practice("knowledge", "Knowledge management", (
    _q("knowledge.capture", "How is knowledge captured?",
       "Knowledge lives in people's heads; when they are away, work stops.",
       "Individuals and teams keep their own notes, documents and wiki pages.",
       "Knowledge articles are written in a shared knowledge base with a standard template, as part of "
       "resolving incidents and problems.",
       "Creation and reuse of articles are measured: articles linked to resolutions, searches that found "
       "nothing.",
       "Capturing knowledge is part of every workflow (knowledge-centred service) and is adapted from "
       "measured reuse and gaps."),
    _q("knowledge.quality", "How is knowledge kept accurate and current?",
       "Nobody reviews what is written; outdated information is common.",
       "An article is corrected when someone happens to notice an error.",
       "Articles have owners, review dates and an approval step before they are published.",
       "Quality is checked by sampling and readers' ratings; stale and unused articles are reported and "
       "dealt with.",
       "Quality criteria and the review process are adjusted from the measured usefulness of articles and "
       "their readers' feedback."),
    _q("knowledge.access", "How do agents and users find knowledge?",
       "Agents ask colleagues; users have no access to knowledge.",
       "A shared drive or wiki exists, but search is poor and content hard to find.",
       "Agents search the knowledge base from the ticket, and users find published articles on the "
       "self-service portal.",
       "Search success, article views and requests avoided through self-service are measured.",
       "Knowledge is suggested in context (ticket forms, chat), and how it is presented is improved from "
       "measured search and self-service results."),
    _q("knowledge.transfer", "How is knowledge passed between teams and to new staff?",
       "New staff learn by watching others; when experts leave, their knowledge leaves with them.",
       "Some handover documents and training sessions exist, but not for every team or system.",
       "Onboarding, handover from projects to operations and transfer from suppliers follow defined "
       "checklists.",
       "The transfer is measured: time for new staff to become effective, escalations from them, issues "
       "after go-live.",
       "Ways of transferring knowledge are improved from these measurements, and communities of practice "
       "share lessons across teams."),
    _q("knowledge.value", "How is the value of knowledge management shown?",
       "Nobody considers its value.",
       "Stories are told about an article that saved the day.",
       "Knowledge management has an owner and written goals.",
       "Effects such as first-contact resolution, time to resolve and self-service use are reported against "
       "the goals.",
       "Investment in knowledge follows its measured value, and the goals are reset each period from the "
       "outcomes."),
))

CATALOGUE = Practice("catalogue", "Service catalogue management", (
    _q("catalogue.definition", "How are services defined and described?",
       "There is no list of services; IT describes what it does in technical terms.",
       "A list of applications or systems exists, kept by one person.",
       "A catalogue describes each business service in the customer's language: what it is, who may use it, "
       "how to request it, its owner and service levels.",
       "Every service has an owner who reviews its entry on a schedule; the catalogue's completeness and "
       "accuracy are checked.",
       "Services are redefined or retired together with their customers, from usage, cost and satisfaction "
       "data."),
    _q("catalogue.requests", "How are service requests offered through the catalogue?",
       "Users e-mail or call whoever they know to ask for something.",
       "Some request forms exist, but users have to know where to find them.",
       "Requestable items are offered on the self-service portal with forms, approvals and fulfilment "
       "workflows.",
       "Volumes, fulfilment times and abandoned requests are measured per catalogue item.",
       "Items are redesigned, automated or retired from measured demand, fulfilment data and user "
       "feedback."),
    _q("catalogue.relationships", "How are services linked to the components and teams behind them?",
       "Nobody knows which systems and teams a service depends on.",
       "Experts know the dependencies of the services they look after.",
       "Services are linked to their configuration items, support groups and suppliers in the CMDB, and "
       "tickets record the affected service.",
       "The relationships are verified (audits, discovery) and used to assess the impact of incidents and "
       "changes.",
       "The service model is refined from how impact assessments turned out in practice."),
    _q("catalogue.audiences", "Does the catalogue serve its different audiences?",
       "There is no catalogue to consult.",
       "A single document or page serves everyone, written mostly for IT.",
       "There is a customer view (business services and requestable items) and a technical view "
       "(supporting services and components).",
       "The use of each view is measured, and each audience is asked whether the catalogue helps them.",
       "Views are tailored, for example by role, and changed from measured use and audience feedback."),
    _q("catalogue.lifecycle", "How is the catalogue kept in step with services as they change?",
       "New services go live without an entry; retired ones stay listed.",
       "The catalogue is updated after a launch when someone remembers.",
       "Adding, changing and retiring an entry is a step of the change and release process.",
       "Catalogue updates are checked against service transitions, and stale entries are reported.",
       "The catalogue's lifecycle is reviewed with portfolio management and changed from measured "
       "outcomes."),
))

PRACTICES: tuple[Practice, ...] = (INCIDENT, PROBLEM, CHANGE, SERVICE_LEVEL, KNOWLEDGE, CATALOGUE)
BY_KEY = {p.key: p for p in PRACTICES}
PRACTICE_CHOICES = [(p.key, p.label) for p in PRACTICES]


def practice_of(key: str) -> Practice | None:
    return BY_KEY.get(key)


def score_of(levels: list[int]) -> Decimal:
    """The mean of the levels, to two decimals (half up): what an assessment scores."""
    if not levels:
        raise ValueError("a score needs at least one level")
    return (Decimal(sum(levels)) / Decimal(len(levels))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def level_of(score: Decimal | float) -> int:
    """The level a score has fully reached: 2.8 is still level 2, as CMMI levels are attained, not rounded."""
    return max(1, min(5, int(score)))

