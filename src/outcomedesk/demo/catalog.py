"""The demo organisation as data: desks, groups, categories, services, people and the words of tickets.

Plain constants, so that planning stays a pure function of the seed. Northwind is a 200-person company;
about fifty of its people appear in the demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

EMAIL_DOMAIN = "northwind.example"
DEMO_PASSWORD = "demo"


@dataclass(frozen=True)
class GroupSpec:
    name: str
    method: str  # AssignmentMethod value
    email: str = ""


@dataclass(frozen=True)
class TicketTemplate:
    """One kind of ticket: its type, wording (with {slots}), service and how urgent it tends to be."""

    type: str  # "incident" or "request"
    title: str
    description: str
    service: str | None = None  # BusinessService slug
    weight: float = 1.0
    impact: int = 3
    urgency: int = 3


@dataclass(frozen=True)
class CategorySpec:
    name: str
    group: str  # the group its assignment rule routes to
    templates: tuple[TicketTemplate, ...]
    resolutions: tuple[str, ...]
    keywords: str = ""  # an extra keyword rule to `group`, matched before the category rules
    weight: float = 1.0


@dataclass(frozen=True)
class DeskSpec:
    slug: str
    name: str
    description: str
    confidential: bool
    share: float  # share of all tickets
    groups: tuple[GroupSpec, ...]
    categories: tuple[CategorySpec, ...]
    first_replies: tuple[str, ...]
    asks: tuple[str, ...]
    answers: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class ServiceSpec:
    slug: str
    name: str
    desk: str
    owner: str  # username
    criticality: int
    users_served: int
    cost_per_hour: Decimal
    experience_target: Decimal
    description: str


@dataclass(frozen=True)
class PersonSpec:
    username: str
    first: str
    last: str
    department: str
    desks: tuple[tuple[str, str], ...] = ()  # (desk slug, role)
    groups: tuple[tuple[str, str], ...] = ()  # (desk slug, group name)
    login: str = ""  # role description when the person is a demo login with password "demo"
    admin: bool = False
    service_manager: bool = False
    executive: bool = False
    is_vip: bool = False
    weight: float = 1.0  # how often they raise tickets

    @property
    def display_name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def email(self) -> str:
        return f"{self.username}@{EMAIL_DOMAIN}"


# Values the {slots} of templates and phrases are filled with.
SLOTS: dict[str, tuple[str, ...]] = {
    "device": ("ThinkPad T14", "Dell Latitude 5440", "MacBook Air", "HP EliteBook 840", "Surface Laptop 5"),
    "app": ("Excel", "Teams", "Outlook", "Adobe Acrobat", "Chrome", "Zoom", "Visual Studio Code", "Salesforce"),
    "floor": ("ground floor", "1st floor", "2nd floor", "3rd floor", "4th floor"),
    "room": ("Atlas", "Borealis", "Cedar", "Delta", "Everest", "Fjord", "Granite", "Harbour"),
    "printer": ("PRN-1F-01", "PRN-2F-02", "PRN-3F-01", "PRN-4F-03", "the printer by reception"),
    "site": ("Lyon office", "Rotterdam office", "head office", "warehouse", "home"),
    "colleague": ("a new sales rep", "our new designer", "the new controller", "a summer intern",
                  "the new support engineer", "our returning colleague"),
    "month": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December"),
    "vendor": ("Acme Office Supply", "Globex Logistics", "Initech Consulting", "Umbrella Catering",
               "Stark Electrical", "Wayne Facilities", "Hooli Cloud"),
    "amount": ("84.50", "126.00", "212.40", "349.99", "1,280.00", "2,450.00", "4,900.00"),
    "error": ("0x80070005", "error 403", "\"Something went wrong\"", "a certificate warning",
              "\"Your session has expired\"", "timeout after 30 s"),
    "city": ("Paris", "Berlin", "Madrid", "Milan", "London", "Copenhagen", "Vienna"),
    "days": ("2", "3", "4", "5", "8", "10"),
    "weekday": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"),
}

T = TicketTemplate
INC, REQ = "incident", "request"

IT = DeskSpec(
    slug="it",
    name="IT",
    description="Laptops, accounts, e-mail, network and business applications.",
    confidential=False,
    share=0.55,
    groups=(
        GroupSpec("Service Desk", "round_robin", f"servicedesk@{EMAIL_DOMAIN}"),
        GroupSpec("Infrastructure & Network", "least_loaded", f"infra@{EMAIL_DOMAIN}"),
        GroupSpec("Business Applications", "least_loaded", f"bizapps@{EMAIL_DOMAIN}"),
    ),
    categories=(
        CategorySpec("Hardware", "Service Desk", weight=1.4, templates=(
            T(INC, "{device} will not boot after the update", "My {device} shows a black screen after this "
              "morning's update. I tried holding the power button; the fans spin but nothing appears.",
              "laptops", 1.2, 3, 2),
            T(INC, "Laptop battery drains in under an hour", "Since last week my {device} lasts less than an "
              "hour on battery, even with only {app} open. It also gets very hot.", "laptops"),
            T(INC, "External monitor not detected on the docking station", "At my desk on the {floor} the "
              "dock charges the laptop but the second screen stays black. Other cables did not help.", "laptops"),
            T(REQ, "New laptop for {colleague}", "{colleague} starts on {weekday} and needs a {device} with "
              "the standard image and a headset.", "laptops", 1.3),
            T(REQ, "Replacement charger for my {device}", "My charger stopped working (the LED no longer "
              "lights). Could I get a replacement? I sit on the {floor}.", "laptops"),
            T(INC, "Keyboard keys stuck on my {device}", "Several keys (E, R, space) stick or repeat. Typing "
              "in {app} is very difficult.", "laptops", 0.7),
        ), resolutions=(
            "Replaced the docking station firmware and reseated the cable; second screen detected.",
            "Swapped the device for a loan laptop and sent the faulty one to the vendor for repair.",
            "Reinstalled the graphics driver and rolled back the BIOS update; the laptop boots normally.",
            "Prepared the {device} with the standard image and handed it over with a headset.",
            "Battery replaced under warranty; runtime back to about eight hours.",
        )),
        CategorySpec("Software", "Service Desk", weight=1.2, templates=(
            T(INC, "{app} crashes when opening attachments", "Every time I open an attachment {app} closes "
              "without a message. It started today; I already restarted the laptop."),
            T(REQ, "Install {app} on my laptop", "I need {app} for a customer project starting next "
              "{weekday}. My manager approved it.", None, 1.3, 3, 3),
            T(INC, "{app} shows {error} on start", "When I start {app} I get {error} and it closes. "
              "Colleagues on the {floor} have the same problem.", None, 1.0, 2, 2),
            T(REQ, "Licence for Adobe Acrobat Pro", "I need to edit and sign PDF contracts; the free reader "
              "is not enough. Cost centre approved by my manager."),
        ), resolutions=(
            "Repaired the {app} installation and cleared its cache; attachments open again.",
            "Installed {app} from the software centre and confirmed it starts.",
            "Assigned a licence and activated it on the laptop.",
            "Known issue with the last update; rolled back the package for the affected users.",
        )),
        CategorySpec("Network & VPN", "Infrastructure & Network", keywords="vpn, wi-fi, wifi, network", templates=(
            T(INC, "VPN disconnects every few minutes", "Working from {site}, the VPN drops every 5-10 "
              "minutes and I lose my session in the ERP.", "vpn", 1.5, 3, 2),
            T(INC, "Cannot connect to the VPN: {error}", "The VPN client fails with {error} since this "
              "morning. Internet works fine otherwise.", "vpn", 1.2, 3, 2),
            T(INC, "Wi-Fi very slow on the {floor}", "Since this morning the Wi-Fi on the {floor} is "
              "extremely slow; video calls freeze and files take minutes to open.", "wifi", 1.3, 2, 2),
            T(INC, "No network in meeting room {room}", "The wall socket and the Wi-Fi in room {room} give "
              "no connection. We have a customer meeting there this afternoon.", "wifi", 0.8, 3, 1),
            T(REQ, "VPN access for {colleague}", "Please enable remote access for {colleague}; they will "
              "work from {site} two days a week.", "vpn"),
        ), resolutions=(
            "Access point on the {floor} rebooted and its channel changed; throughput back to normal.",
            "Renewed the user's VPN certificate; the client connects again.",
            "Updated the VPN client to the current version; the disconnections stopped.",
            "Replaced the faulty patch cable in room {room}.",
            "Added the user to the remote-access group.",
        )),
        CategorySpec("E-mail & Calendar", "Infrastructure & Network", keywords="mailbox, outlook, calendar",
                     weight=1.1, templates=(
            T(INC, "E-mails stuck in the outbox", "Outlook keeps my messages in the outbox since {weekday}; "
              "they are never sent. Receiving works.", "email", 1.3, 3, 2),
            T(INC, "Mailbox full, cannot send", "I get a warning that my mailbox is full and I can no longer "
              "send e-mails. I need to send quotes today.", "email", 1.0, 3, 1),
            T(REQ, "Shared mailbox for the {city} team", "Please create a shared mailbox for the {city} team "
              "and give access to the four people listed in the attached sheet.", "email"),
            T(INC, "Meeting invitations not showing in the calendar", "Invitations arrive by e-mail but "
              "never appear in my calendar, so I miss meetings.", "email"),
        ), resolutions=(
            "Raised the mailbox quota and archived mail older than two years.",
            "Rebuilt the Outlook profile; queued messages were sent.",
            "Created the shared mailbox and granted access to the listed people.",
            "Re-enabled calendar processing on the mailbox; invitations appear again.",
        )),
        CategorySpec("Accounts & Access", "Service Desk", weight=1.3, templates=(
            T(INC, "Account locked after password change", "I changed my password this morning and now my "
              "account is locked on every device.", None, 1.5, 3, 1),
            T(REQ, "Access to the {city} project share", "I need read and write access to the {city} project "
              "folder on the file share. My manager approves.", None, 1.2),
            T(REQ, "Reset multi-factor authentication", "I have a new phone and can no longer approve "
              "sign-ins. Please reset my MFA registration.", None, 1.0, 3, 2),
            T(REQ, "Accounts for {colleague}", "{colleague} starts on {weekday}: please create the account, "
              "mailbox and add them to the team groups."),
        ), resolutions=(
            "Unlocked the account and removed the old password cached on the phone.",
            "Granted access through the project group; the user can now open the share.",
            "Reset the MFA registration and checked the user enrolled the new phone.",
            "Created the account, mailbox and group memberships; credentials sent to the manager.",
        )),
        CategorySpec("Printing", "Service Desk", weight=0.6, templates=(
            T(INC, "Printer {printer} jams on every job", "Printer {printer} jams on every print since this "
              "morning; paper tray 2 seems to be the problem.", "printing", 1.2),
            T(INC, "Cannot print from my laptop", "My print jobs to {printer} stay in the queue with "
              "'error - printing'.", "printing"),
            T(REQ, "Toner for {printer}", "The black toner of {printer} is almost empty.", "printing", 0.8, 3, 3),
        ), resolutions=(
            "Cleared the paper path and replaced the worn pickup roller.",
            "Removed the stuck job and reinstalled the printer driver.",
            "Replaced the toner cartridge.",
        )),
        CategorySpec("Business applications", "Business Applications", keywords="erp, purchase order posting",
                     templates=(
            T(INC, "ERP very slow when posting invoices", "Posting an invoice in the ERP takes more than two "
              "minutes and sometimes fails with {error}. Month-end close is this week.", "erp", 1.3, 2, 2),
            T(INC, "ERP report 'Open orders' is empty", "The open orders report returns no rows since "
              "{weekday}, although we have open orders.", "erp"),
            T(REQ, "ERP role for the {city} warehouse", "Please give me the warehouse clerk role in the ERP "
              "for the {city} site.", "erp"),
            T(INC, "Cannot log in to the ERP: {error}", "The ERP login page shows {error}. I need to ship "
              "orders today.", "erp", 1.0, 3, 1),
        ), resolutions=(
            "Rebuilt the statistics of the posting tables; posting takes a few seconds again.",
            "Fixed the report filter broken by the last configuration change.",
            "Granted the ERP role after the manager's approval.",
            "Cleared the user's stale session on the application server.",
        )),
    ),
    first_replies=(
        "Thanks for reporting this. I am looking into it now.",
        "Hello, I have picked up your ticket and will get back to you shortly.",
        "Thanks, I can see the issue on our side and am working on it.",
        "I have started on this; could you keep the laptop connected to the network for the next hour?",
    ),
    asks=(
        "Could you send a screenshot of the error message and tell me when it started?",
        "Which room or desk are you sitting at, so I can check the device there?",
        "Could you restart the laptop while connected to the office network and tell me if it persists?",
        "Could you confirm your manager approves this? A short reply here is enough.",
    ),
    answers=(
        "Here is the screenshot. It started this morning around 9.",
        "I restarted as asked; the problem is still there.",
        "My manager approved, see the e-mail below.",
        "I am on the {floor}, desk near the window.",
    ),
    notes=(
        "Checked the logs: the same error appears for three other users since the update.",
        "Vendor ticket opened; reference in the asset record.",
        "Looks related to the certificate rollout last week.",
        "Remote session done; issue reproduced.",
    ),
)

HR = DeskSpec(
    slug="hr",
    name="HR",
    description="Payroll, leave, contracts, onboarding and confidential people matters.",
    confidential=True,
    share=0.14,
    groups=(
        GroupSpec("People Operations", "round_robin", f"people@{EMAIL_DOMAIN}"),
        GroupSpec("Payroll & Benefits", "least_loaded", f"payroll@{EMAIL_DOMAIN}"),
    ),
    categories=(
        CategorySpec("Payroll", "Payroll & Benefits", keywords="payslip, salary", weight=1.4, templates=(
            T(INC, "Overtime missing from my {month} payslip", "My {month} payslip does not include the "
              "overtime approved by my manager.", "payroll", 1.5, 3, 2),
            T(INC, "Salary not received for {month}", "My {month} salary has not arrived in my account yet.",
              "payroll", 0.6, 3, 1),
            T(REQ, "Change of bank account for salary", "I changed banks; please pay my salary to the new "
              "account from next month. Form attached.", "payroll", 1.0),
        ), resolutions=(
            "Overtime added to the next payroll run; a corrected payslip is in the HR portal.",
            "The bank rejected the transfer; payment resent, arriving within one working day.",
            "Bank details updated; applies from the next payroll run.",
        )),
        CategorySpec("Leave & absence", "People Operations", weight=1.2, templates=(
            T(REQ, "Parental leave from {month}", "I would like to plan my parental leave starting in "
              "{month}. What do I need to provide?", "hr-portal"),
            T(INC, "Leave balance wrong in the HR portal", "The HR portal shows {days} days less holiday than I have.",
              "hr-portal", 1.2),
            T(REQ, "Unpaid leave request", "I would like {days} days of unpaid leave in {month} for a family matter."),
        ), resolutions=(
            "Leave balance corrected; the carry-over had not been applied.",
            "Sent the parental leave form and the list of documents; dates recorded.",
            "Unpaid leave approved with the manager and recorded in the HR portal.",
        )),
        CategorySpec("Onboarding", "People Operations", templates=(
            T(REQ, "Onboarding for {colleague}", "{colleague} joins on {weekday}. Please prepare the "
              "contract, welcome pack and first-day schedule.", "hr-portal", 1.5),
            T(REQ, "Buddy programme for new joiner", "Could you assign a buddy to {colleague} joining the team?"),
        ), resolutions=(
            "Contract signed, welcome pack sent and first-day schedule shared with the manager.",
            "Buddy assigned and introduced by e-mail.",
        )),
        CategorySpec("Offboarding", "People Operations", weight=0.6, templates=(
            T(REQ, "Leaver: last working day on {weekday}", "A team member leaves us; please start the "
              "offboarding (final pay, equipment return, exit interview)."),
        ), resolutions=("Offboarding checklist completed; final pay calculated and exit interview booked.",)),
        CategorySpec("Benefits", "Payroll & Benefits", weight=0.8, templates=(
            T(REQ, "Join the company pension plan", "How do I join the pension plan and can I choose the "
              "contribution rate?", "hr-portal"),
            T(INC, "Meal vouchers not credited for {month}", "My meal voucher card was not credited for {month}.",
              "payroll"),
        ), resolutions=(
            "Enrolment form sent and processed; contributions start next month.",
            "Vouchers credited manually; the card provider had missed the file.",
        )),
        CategorySpec("Certificates & contracts", "People Operations", templates=(
            T(REQ, "Employment certificate for my landlord", "I need an employment certificate with my "
              "salary for a flat rental application.", "hr-portal", 1.3),
            T(REQ, "Switch to a 4-day week", "I would like to discuss moving to 80% from {month}."),
        ), resolutions=(
            "Certificate issued and uploaded to the HR portal.",
            "Contract amendment prepared after the meeting with the manager.",
        )),
        CategorySpec("Workplace concern", "People Operations", weight=0.3, templates=(
            T(INC, "Confidential: concern about team behaviour", "I would like to raise a concern about "
              "behaviour in my team in confidence. Can we talk this week?", None, 1.0, 3, 2),
        ), resolutions=("Confidential meeting held; follow-up agreed with the employee.",)),
    ),
    first_replies=(
        "Thank you for your message. I am handling your request.",
        "Hello, I have received your request and will come back to you within two working days.",
        "Thanks, I am checking this with payroll.",
    ),
    asks=(
        "Could you upload the signed form to the HR portal?",
        "Could you confirm the dates with your manager and let me know?",
        "Could you send a copy of the payslip concerned?",
    ),
    answers=(
        "I uploaded the signed form just now.",
        "My manager confirmed the dates, thanks.",
        "Payslip attached.",
    ),
    notes=(
        "Checked with the payroll provider; their file was corrected.",
        "Manager informed; handle with discretion.",
        "Waiting for the signed copy before processing.",
    ),
)

FACILITIES = DeskSpec(
    slug="facilities",
    name="Facilities",
    description="Buildings, badges, meeting rooms, furniture and repairs.",
    confidential=False,
    share=0.18,
    groups=(
        GroupSpec("Building Services", "round_robin", f"facilities@{EMAIL_DOMAIN}"),
        GroupSpec("Workplace & Moves", "round_robin"),
        GroupSpec("Security & Access", "least_loaded", f"security@{EMAIL_DOMAIN}"),
    ),
    categories=(
        CategorySpec("Building access & badges", "Security & Access", keywords="badge", weight=1.3, templates=(
            T(INC, "My badge no longer opens the {floor} door", "My badge is refused by the door reader on "
              "the {floor} since this morning.", "building-access", 1.5, 3, 1),
            T(REQ, "Badge for {colleague}", "{colleague} starts on {weekday} and needs a badge for the {site}.",
              "building-access", 1.2),
            T(INC, "Car park barrier not opening", "The car park barrier does not react to badges; cars are "
              "queueing in the street.", "building-access", 0.5, 2, 1),
        ), resolutions=(
            "Badge re-encoded; access to the {floor} restored.",
            "Badge printed and handed over at reception.",
            "Barrier controller reset and the technician called for the reader.",
        )),
        CategorySpec("Heating & air conditioning", "Building Services", weight=1.2, templates=(
            T(INC, "Too cold on the {floor}", "It is about 17 degrees on the {floor} this morning; people "
              "are working in coats.", None, 1.3, 2, 2),
            T(INC, "Air conditioning not working in room {room}", "Meeting room {room} is unbearably hot; "
              "the air conditioning does not start.", None, 1.0, 3, 2),
        ), resolutions=(
            "Heating valve on the {floor} repaired; temperature back to 21 degrees.",
            "Air conditioning unit in room {room} serviced by the maintenance contractor.",
        )),
        CategorySpec("Cleaning", "Building Services", weight=0.7, templates=(
            T(INC, "Kitchen on the {floor} not cleaned", "The kitchen on the {floor} was not cleaned "
              "yesterday; bins are overflowing."),
            T(REQ, "Extra cleaning after the team event", "We have a team event in room {room} on {weekday}; "
              "could cleaning come by afterwards?"),
        ), resolutions=("Cleaning contractor informed; kitchen cleaned.", "Extra cleaning booked.")),
        CategorySpec("Furniture & moves", "Workplace & Moves", keywords="desk move, chair", templates=(
            T(REQ, "Move of the {city} team to the {floor}", "The {city} team (6 people) moves to the "
              "{floor} on {weekday}; please plan desks and boxes."),
            T(REQ, "Ergonomic chair", "My occupational doctor recommends an ergonomic chair; certificate attached."),
            T(INC, "Broken desk height adjustment", "My standing desk on the {floor} is stuck at its lowest height."),
        ), resolutions=(
            "Move completed; desks labelled and boxes collected.",
            "Ergonomic chair ordered from {vendor} and delivered.",
            "Desk motor replaced.",
        )),
        CategorySpec("Meeting rooms & AV", "Workplace & Moves", weight=0.9, templates=(
            T(INC, "Screen in room {room} shows no signal", "The screen in meeting room {room} shows 'no "
              "signal' with every laptop.", "meeting-rooms", 1.2, 3, 1),
            T(REQ, "Video-conference kit for room {room}", "Could room {room} get a camera and speakerphone? "
              "We use it for customer calls every day.", "meeting-rooms"),
        ), resolutions=(
            "Replaced the HDMI switch in room {room}; screen works.",
            "Installed a video-conference bar in room {room}.",
        )),
        CategorySpec("Repairs & maintenance", "Building Services", templates=(
            T(INC, "Water leak in the {floor} toilets", "Water is leaking under the sink in the {floor} toilets.",
              None, 1.0, 2, 1),
            T(INC, "Lights flickering on the {floor}", "Ceiling lights near the stairs on the {floor} "
              "flicker constantly."),
            T(INC, "Lift out of order", "The lift is stuck on the {floor} with its doors open.", None, 0.4, 2, 2),
        ), resolutions=(
            "Plumber fixed the leaking siphon.",
            "Replaced the ballast and tubes.",
            "Lift maintenance company repaired the door sensor.",
        )),
    ),
    first_replies=(
        "Thanks, we are on it.",
        "Hello, a technician will come by today.",
        "Thanks for the report; I have asked the contractor to check.",
    ),
    asks=(
        "Could you tell me exactly where (floor and room) so the technician finds it?",
        "Which dates suit the team best?",
        "Could you send a photo?",
    ),
    answers=("Next to room {room}, on the {floor}.", "{weekday} works best for us.", "Photo attached."),
    notes=(
        "Contractor {vendor} booked for {weekday} morning.",
        "Parts ordered; delivery in three days.",
        "Second report this month for the same floor.",
    ),
)

FINANCE = DeskSpec(
    slug="finance",
    name="Finance",
    description="Expenses, supplier invoices, purchasing, corporate cards and travel.",
    confidential=False,
    share=0.13,
    groups=(
        GroupSpec("Accounts Payable", "round_robin", f"ap@{EMAIL_DOMAIN}"),
        GroupSpec("Travel & Expenses", "least_loaded", f"expenses@{EMAIL_DOMAIN}"),
    ),
    categories=(
        CategorySpec("Expense claims", "Travel & Expenses", keywords="expense", weight=1.6, templates=(
            T(INC, "Expense claim rejected without reason", "My expense claim of EUR {amount} for the {city} "
              "trip was rejected with no comment.", "expenses", 1.3),
            T(INC, "Expense claim not reimbursed", "My {month} expense claim (EUR {amount}) was approved but "
              "not paid yet.", "expenses", 1.2, 3, 2),
            T(INC, "Cannot upload receipts in the expenses app", "The expenses app shows {error} when I "
              "upload a receipt photo.", "expenses", 0.8),
        ), resolutions=(
            "The receipt was missing; claim approved after it was added.",
            "Payment included in this week's run.",
            "Known upload issue with large photos; fixed by the vendor.",
        )),
        CategorySpec("Supplier invoices", "Accounts Payable", keywords="invoice", weight=1.2, templates=(
            T(INC, "Supplier {vendor} chasing an unpaid invoice", "{vendor} says invoice of EUR {amount} is "
              "45 days overdue and threatens to stop deliveries.", "erp", 1.2, 2, 2),
            T(REQ, "Please pay invoice from {vendor}", "Attached an invoice from {vendor} (EUR {amount}), "
              "approved by my manager.", "erp", 1.3),
        ), resolutions=(
            "Invoice matched to the purchase order and paid.",
            "Invoice was on hold for a missing receipt; released for payment.",
        )),
        CategorySpec("Purchase orders", "Accounts Payable", templates=(
            T(REQ, "Purchase order for {vendor}", "Please raise a purchase order of EUR {amount} for {vendor}.",
              "erp", 1.2),
            T(REQ, "New supplier: {vendor}", "We want to work with {vendor}; please create them as a supplier."),
        ), resolutions=("Purchase order created and sent to the supplier.", "Supplier created after checks.")),
        CategorySpec("Corporate cards", "Travel & Expenses", weight=0.7, templates=(
            T(INC, "Corporate card declined", "My corporate card was declined at a hotel in {city}.", None, 1.0, 3, 1),
            T(REQ, "Raise my card limit", "I travel to {city} next month; could my card limit be raised?"),
        ), resolutions=("Card unblocked with the bank.", "Limit raised temporarily for the trip.")),
        CategorySpec("Travel booking", "Travel & Expenses", templates=(
            T(REQ, "Trip to {city} on {weekday}", "Please book a return trip to {city} for a customer visit, "
              "{days} nights.", None, 1.3),
        ), resolutions=("Trip booked; itinerary sent by e-mail.",)),
        CategorySpec("Budget & reporting", "Accounts Payable", weight=0.5, templates=(
            T(REQ, "Budget report for {month}", "Could I get the {month} budget versus actuals for my cost centre?",
              "erp"),
        ), resolutions=("Report sent.",)),
    ),
    first_replies=(
        "Thanks, I am looking into it.",
        "Hello, I have picked this up and will check the payment run.",
    ),
    asks=(
        "Could you attach the receipt and the approval?",
        "Which cost centre should this be charged to?",
    ),
    answers=("Receipt and approval attached.", "Cost centre 4100, thanks."),
    notes=("Matched to PO; waiting for goods receipt.", "Duplicate claim spotted and removed."),
)

DESKS: tuple[DeskSpec, ...] = (IT, HR, FACILITIES, FINANCE)

SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("email", "E-mail & Calendar", "it", "ivan.kowalski", 1, 200, Decimal("4000"), Decimal("4.2"),
                "Mailboxes, calendars and shared mailboxes."),
    ServiceSpec("vpn", "VPN & Remote access", "it", "ivan.kowalski", 2, 120, Decimal("1500"), Decimal("4.0"),
                "Remote access for people working from home and other sites."),
    ServiceSpec("erp", "ERP", "it", "victor.laurent", 1, 60, Decimal("6000"), Decimal("3.8"),
                "Orders, invoices, purchasing and stock."),
    ServiceSpec("laptops", "Laptop fleet", "it", "ivan.kowalski", 3, 200, Decimal("250"), Decimal("4.2"),
                "Laptops, docking stations and accessories."),
    ServiceSpec("wifi", "Office Wi-Fi", "it", "ivan.kowalski", 2, 180, Decimal("1200"), Decimal("4.0"),
                "Wireless network in every office."),
    ServiceSpec("printing", "Printing", "it", "ivan.kowalski", 4, 150, Decimal("80"), Decimal("3.8"),
                "Multifunction printers and scanning."),
    ServiceSpec("payroll", "Payroll", "hr", "claire.dubois", 1, 200, Decimal("2500"), Decimal("4.3"),
                "Monthly pay, payslips and benefits."),
    ServiceSpec("hr-portal", "HR portal", "hr", "claire.dubois", 3, 200, Decimal("150"), Decimal("4.0"),
                "Leave, personal data and documents."),
    ServiceSpec("building-access", "Building access", "facilities", "pete.walsh", 2, 200, Decimal("800"),
                Decimal("4.0"), "Badges, doors and car park."),
    ServiceSpec("meeting-rooms", "Meeting rooms & AV", "facilities", "pete.walsh", 3, 200, Decimal("300"),
                Decimal("4.0"), "Room screens and video conferencing."),
    ServiceSpec("expenses", "Expenses", "finance", "victor.laurent", 3, 150, Decimal("200"), Decimal("3.9"),
                "Expense claims and reimbursements."),
)


def desk(slug: str) -> DeskSpec:
    return next(d for d in DESKS if d.slug == slug)


def category(desk_slug: str, name: str) -> CategorySpec:
    return next(c for c in desk(desk_slug).categories if c.name == name)


def _staff(username: str, first: str, last: str, desk_slug: str, groups: tuple[str, ...], role: str = "agent",
           login: str = "") -> PersonSpec:
    """A desk's agent or manager; staff raise few tickets themselves, never to their own desk."""
    return PersonSpec(username, first, last, department=f"{desk(desk_slug).name} team",
                      desks=((desk_slug, role),), groups=tuple((desk_slug, g) for g in groups), weight=0.3,
                      login=login)


SD, INFRA, APPS = "Service Desk", "Infrastructure & Network", "Business Applications"
PEOPLE_OPS, PAYROLL = "People Operations", "Payroll & Benefits"
BUILDING, MOVES, SECURITY = "Building Services", "Workplace & Moves", "Security & Access"
AP, TE = "Accounts Payable", "Travel & Expenses"

PEOPLE: tuple[PersonSpec, ...] = (
    PersonSpec("admin", "Alex", "Admin", "IT team", login="Platform admin (superuser)", admin=True,
               weight=0.0),
    PersonSpec("manager", "Morgan", "Reyes", "Operations", login="Service manager (sees every desk's figures)",
               service_manager=True, weight=0.2),
    PersonSpec("erin", "Erin", "Okafor", "Executive", executive=True, weight=0.0,
               login="Executive (sees the insights of every non-confidential desk)"),
    _staff("ivan.kowalski", "Ivan", "Kowalski", "it", (), role="manager"),
    _staff("it.manager", "Irene", "Moreau", "it", (SD,), role="manager",
           login="IT desk manager"),
    _staff("it.agent", "Sam", "Patel", "it", (SD, INFRA), login="IT agent (Service Desk, Infrastructure)"),
    _staff("lena.fischer", "Lena", "Fischer", "it", (SD,)),
    _staff("tom.nguyen", "Tom", "Nguyen", "it", (SD,)),
    _staff("aisha.bello", "Aisha", "Bello", "it", (SD, APPS)),
    _staff("marco.rossi", "Marco", "Rossi", "it", (INFRA,)),
    _staff("kenji.sato", "Kenji", "Sato", "it", (INFRA,)),
    _staff("priya.sharma", "Priya", "Sharma", "it", (APPS,)),
    _staff("julia.weber", "Julia", "Weber", "it", (APPS,)),
    _staff("claire.dubois", "Claire", "Dubois", "hr", (), role="manager"),
    _staff("hr.agent", "Helena", "Brooks", "hr", (PEOPLE_OPS, PAYROLL),
           login="HR agent (confidential HR desk)"),
    _staff("nora.lindqvist", "Nora", "Lindqvist", "hr", (PEOPLE_OPS,)),
    _staff("omar.haddad", "Omar", "Haddad", "hr", (PAYROLL,)),
    _staff("pete.walsh", "Pete", "Walsh", "facilities", (), role="manager"),
    _staff("rosa.martinez", "Rosa", "Martinez", "facilities", (BUILDING, MOVES)),
    _staff("dan.oconnor", "Dan", "O'Connor", "facilities", (BUILDING, SECURITY)),
    _staff("mei.chen", "Mei", "Chen", "facilities", (MOVES, SECURITY)),
    _staff("victor.laurent", "Victor", "Laurent", "finance", (), role="manager"),
    _staff("grace.kim", "Grace", "Kim", "finance", (AP, TE)),
    _staff("felix.braun", "Felix", "Braun", "finance", (AP,)),
    _staff("sofia.costa", "Sofia", "Costa", "finance", (TE,)),
    PersonSpec("employee", "Emma", "Larsen", "Sales", login="Employee (requester, self-service portal)"),
    PersonSpec("olivia.martin", "Olivia", "Martin", "Executive", is_vip=True, weight=0.6),
    PersonSpec("henrik.berg", "Henrik", "Berg", "Executive", is_vip=True, weight=0.5),
    PersonSpec("lucas.bernard", "Lucas", "Bernard", "Sales", weight=1.3),
    PersonSpec("chloe.petit", "Chloe", "Petit", "Sales"),
    PersonSpec("noah.schmidt", "Noah", "Schmidt", "Sales", weight=1.2),
    PersonSpec("mia.jansen", "Mia", "Jansen", "Marketing"),
    PersonSpec("leo.dupont", "Leo", "Dupont", "Marketing"),
    PersonSpec("zoe.williams", "Zoe", "Williams", "Marketing", weight=0.8),
    PersonSpec("ethan.clarke", "Ethan", "Clarke", "Engineering", weight=1.4),
    PersonSpec("ava.novak", "Ava", "Novak", "Engineering"),
    PersonSpec("raj.mehta", "Raj", "Mehta", "Engineering", weight=1.2),
    PersonSpec("ines.garcia", "Ines", "Garcia", "Engineering"),
    PersonSpec("yusuf.demir", "Yusuf", "Demir", "Product"),
    PersonSpec("hannah.meyer", "Hannah", "Meyer", "Product", weight=0.8),
    PersonSpec("jonas.virtanen", "Jonas", "Virtanen", "Customer Success", weight=1.3),
    PersonSpec("sara.rossi", "Sara", "Rossi", "Customer Success"),
    PersonSpec("diego.fernandez", "Diego", "Fernandez", "Customer Success"),
    PersonSpec("amelie.roux", "Amelie", "Roux", "Operations", weight=1.2),
    PersonSpec("bram.devries", "Bram", "de Vries", "Operations"),
    PersonSpec("kasia.nowak", "Kasia", "Nowak", "Operations"),
    PersonSpec("paul.lambert", "Paul", "Lambert", "Legal", weight=0.7),
    PersonSpec("elena.popescu", "Elena", "Popescu", "Legal", weight=0.6),
    PersonSpec("tariq.aziz", "Tariq", "Aziz", "Warehouse", weight=1.2),
    PersonSpec("lotte.peeters", "Lotte", "Peeters", "Warehouse"),
    PersonSpec("marek.dvorak", "Marek", "Dvorak", "Warehouse"),
    PersonSpec("anna.kovacs", "Anna", "Kovacs", "Finance", weight=0.9),
)

# Major incidents: bursts of similar tickets against one service, resolved together.
OUTAGES: tuple[tuple[str, str, str, str, str], ...] = (
    # desk, category, service, title, resolution
    ("it", "Network & VPN", "vpn", "VPN down: cannot connect from home",
     "VPN concentrator failed over to the standby node; certificate chain fixed. Service restored."),
    ("it", "E-mail & Calendar", "email", "E-mails delayed by more than an hour",
     "Mail relay queue cleared after the anti-spam gateway was restarted; all delayed mail delivered."),
    ("it", "Network & VPN", "wifi", "No Wi-Fi on the {floor}",
     "Faulty switch feeding the access points replaced; Wi-Fi restored on the floor."),
    ("it", "Business applications", "erp", "ERP unavailable: {error}",
     "Database server ran out of disk space for logs; space freed and log rotation fixed."),
)


# How far each major incident reached: (users affected, share of users); neither is a full outage.
OUTAGE_REACH: dict[str, tuple[int | None, Decimal | None]] = {
    "vpn": (None, None),
    "email": (None, Decimal("0.6")),
    "wifi": (45, None),
    "erp": (None, None),
}
# Services whose incidents sometimes stop work for more than one person (and so get an impact window).
IMPACTFUL_SERVICES = frozenset({"email", "vpn", "erp", "wifi", "payroll", "hr-portal", "building-access",
                                "meeting-rooms"})
IMPACT_NOTES = (
    "Several people reported the same symptom.",
    "Workaround given while the fix was prepared.",
    "Only part of the users were affected.",
    "",
)

# Satisfaction surveys: what requesters write beside their score.
SURVEY_COMMENTS: dict[int, tuple[str, ...]] = {
    1: ("Nobody explained anything; I had to chase twice.", "The ticket was closed but nothing works."),
    2: ("Took far too long for something so simple.", "Solved in the end, but I had to repeat myself."),
    3: ("OK, but it could have been quicker.", "Fine."),
    4: ("Quick and friendly, thanks.", "Good service."),
    5: ("Excellent, solved in minutes!", "Very helpful, thank you!", "Great, thanks a lot."),
}

# The demo's "watermelon": a service whose tickets meet every SLA target while its users are unhappy, and whose
# incidents keep coming back for the same reason (METRICS.md, "Watermelon detection").
WATERMELON_SERVICE = "expenses"
WATERMELON_DAYS = 45  # its tickets of these last days are closed fast, and rated low
WATERMELON_ISSUE = ("finance", "Expense claims", "Expense claim rejected by the new receipt check",
                    "My claim of EUR {amount} for the {city} trip was rejected again by the automatic receipt "
                    "check, although the receipt is attached and readable.")
WATERMELON_COMMENTS = (
    "Closed within the hour, but my claim is still not paid.",
    "Fast answer, no solution: the receipt check rejects it again.",
    "Third time I report this. Closing the ticket does not fix the check.",
    "You answer quickly, but nobody looks at why claims are rejected.",
)


def logins() -> list[tuple[str, str, str]]:
    """(username, password, role) of the demo accounts that can sign in."""
    return [(p.username, DEMO_PASSWORD, p.login) for p in PEOPLE if p.login]



# --- service levels --------------------------------------------------------------------------------------------

OFFICE_HOURS = {
    "timezone": "Europe/Berlin",
    "hours": {d: [["08:00", "12:00"], ["13:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": {"country": "DE", "subdiv": "BE"},
    "extra_holidays": [],
    "half_days": {},
}
CALENDARS = {"Berlin office hours": OFFICE_HOURS, "Around the clock": {"timezone": "Europe/Berlin", "hours": "24x7"}}


def _targets(metric: str, by_priority: dict[int | None, int]) -> list[dict[str, object]]:
    return [{"metric": metric, "priority": p, "minutes": m} for p, m in by_priority.items()]


# (name, values, targets): the first matching policy of each kind wins, by order.
POLICIES: list[tuple[str, dict[str, object], list[dict[str, object]]]] = [
    ("Executives", {"order": 10, "vip": True, "calendar": "Around the clock", "pause_reasons": ["requester"]},
     _targets("response", {None: 15}) + _targets("resolution", {1: 120, 2: 240, None: 480})),
    ("IT major incidents", {"order": 20, "desk": "it", "ticket_type": "incident", "priorities": [1],
                            "calendar": "Around the clock", "pause_reasons": ["vendor"]},
     _targets("response", {None: 15}) + _targets("resolution", {None: 240}) + _targets("next_update", {None: 60})),
    ("IT incidents", {"order": 30, "desk": "it", "ticket_type": "incident", "calendar": "Berlin office hours",
                      "pause_reasons": ["requester", "vendor"]},
     _targets("response", {2: 30, 3: 120, None: 240})
     + _targets("resolution", {2: 480, 3: 1620, 4: 2700, None: 4500})),
    ("IT requests", {"order": 40, "desk": "it", "ticket_type": "request", "calendar": "Berlin office hours",
                     "pause_reasons": ["requester", "vendor"]},
     _targets("response", {None: 240}) + _targets("resolution", {None: 2700})),
    ("People questions", {"order": 50, "desk": "hr", "calendar": "Berlin office hours",
                          "pause_reasons": ["requester"]},
     _targets("response", {None: 480}) + _targets("resolution", {None: 2700})),
    ("Facilities", {"order": 60, "desk": "facilities", "calendar": "Berlin office hours",
                    "pause_reasons": ["requester", "vendor"]},
     _targets("response", {None: 240}) + _targets("resolution", {1: 480, None: 2700})),
    ("Finance", {"order": 70, "desk": "finance", "calendar": "Berlin office hours", "pause_reasons": ["requester"]},
     _targets("response", {None: 480}) + _targets("resolution", {None: 4500})),
    ("Team hand-offs", {"kind": "ola", "order": 10, "calendar": "Berlin office hours",
                        "pause_reasons": ["requester", "vendor"]},
     _targets("group_hold", {1: 120, 2: 480, None: 1620})),
    ("Supplier contracts", {"kind": "uc", "order": 10, "calendar": "Berlin office hours", "vendor": "Suppliers"},
     _targets("vendor_pending", {None: 1620})),
]

ESCALATIONS: list[dict[str, object]] = [
    {"name": "Warn the assignee", "at_percent": 75, "action": "notify_assignee", "business_hours_only": True},
    {"name": "Tell the desk managers", "at_percent": 100, "action": "notify_managers", "business_hours_only": True},
    {"name": "Raise a major incident's priority", "policy": "IT major incidents", "metric": "resolution",
     "at_percent": 150, "action": "raise_priority"},
]
