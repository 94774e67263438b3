"""The customer-service signal layer: does this message complain, about what, and does it ask us something?

VADER reads general sentiment; customers complain in neutral words ("on hold for 2 hours",
"where is my refund?") or in sarcastic positive ones ("great, another delay"). This module
finds that evidence with English patterns (compiled once) and per-language lexicons
(``socialwatch/lexicons/*.toml``, extendable from config), and says what it matched so
triage can give human-readable reasons. Pure and thread-safe once built.
"""

from __future__ import annotations

import logging
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping

log = logging.getLogger(__name__)

LEXICON_DIR = Path(__file__).resolve().parent / "lexicons"

#: A score at or above this makes ``Signals.complaint`` true.
COMPLAINT_THRESHOLD = 0.5

#: Intents that are problems a support agent must handle (the rest are tone or form).
PROBLEM_INTENTS = frozenset({
    "waiting", "delay", "cancellation", "lost_damaged", "refund", "charge", "outage", "error",
    "account_security", "rude_staff", "broken_promise", "no_response", "repeat_contact", "escalation",
})

#: Intents that count against a complaint.
COUNTER_INTENTS = frozenset({"praise", "resolved"})


@dataclass(frozen=True)
class Signals:
    complaint: bool
    score: float  # 0..1: how complaint-like
    intents: tuple[str, ...]  # distinct, in order of first evidence
    question_to_brand: bool
    matched: tuple[str, ...]  # human-readable evidence: "delay: 'delayed again'"
    lang: str = "und"
    lexicon: bool = False  # whether a lexicon for ``lang`` (beyond English) was consulted

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(i for i in self.intents if i in PROBLEM_INTENTS)


NO_SIGNALS = Signals(False, 0.0, (), False, ())


@dataclass(frozen=True)
class Rule:
    intent: str
    weight: float  # > 0 evidence of a complaint, < 0 evidence against
    pattern: re.Pattern[str]
    # Strings one of which every match contains (derived from the pattern): a cheap test that skips
    # the regular expression for most texts. None: no such set could be derived, always search.
    gate: tuple[str, ...] | None = None
    # The gate strings that start with a word character at the start of a word in every match (after
    # ``\b``, a space or other non-word character): a piece of them can be looked for at word starts only.
    gate_word_start: tuple[str, ...] = ()


_DUR = r"(?:\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|several|many|few|couple of)\s*\+?\s*" \
       r"(?:hours?|hrs?|h|days?|weeks?|wks?|months?|mins?|minutes?)"
_PROBLEM_WORD = (
    r"(?:delay\w*|cancell?ed|cancell?ation|broken|late|lost|nothing|hours?|charged|crash\w*|outage|"
    r"(?:is|went|been|still|goes) down|error|refund|on hold|stuck|missing|damaged|rude|queue|buffering|"
    r"no (?:signal|service|internet|wifi|reply|response|update|one|show|refund|power|water)|"
    r"\d+\s*(?:hours?|hrs?|days?|mins?|minutes?)\s+(?:delay|late|wait|on hold))"
)
_THINGS = (
    r"(?:refund|money|order|parcel|package|delivery|item|items|bag|bags|luggage|suitcase|reimbursement|"
    r"compensation|replacement|card|tickets?|booking|invoice|receipt|cashback|deposit|payment|claim|"
    r"engineer|technician|driver|ride|food|meal|stuff|purchase|product|goods|shipment|reply|callback)"
)
_SERVICES = (
    r"(?:internet|broadband|wifi|wi-fi|signal|service|network|coverage|connection|power|electricity|gas|"
    r"water|hot water|heating|sound|picture|data|reception|phone line|line|landline|tv|app|website|site)"
)
_CANT = r"(?:can'?t|cannot|can not|couldn'?t|unable to|won'?t|wont|doesn'?t|does not|not able to)"
_ACTIONS = (
    r"(?:load|connect|open|work|log ?in|sign ?in|login|pay|access|save|upload|download|play|stream|send|"
    r"receive|use|reach|get through|get hold|book|check ?in|checkout|check out|update|install|cancel|"
    r"unsubscribe|withdraw|transfer|top ?up|activate|verify|reset|find my|track)"
)
_STAFF = (
    r"(?:staff|driver|agent|employee|manager|rep|representative|cashier|conductor|crew|guard|courier|"
    r"waiter|waitress|receptionist|advisor|adviser|operator|person on the phone|lady|guy|man|woman|"
    r"security|supervisor|team|technician|engineer|customer service|support)"
)

#: (intent, weight, pattern) for English; also applied to every other language (code-switching).
ENGLISH_RULES: tuple[tuple[str, float, str], ...] = (
    # waiting and not being answered
    ("waiting", 0.8, r"\bon hold\b"),
    ("waiting", 0.8, r"\bstill (?:waiting|no\b|not\b|nothing|haven'?t|hasn'?t|hadn'?t|can'?t|cannot|unable|"
                     r"without|broken|down|hungry|pending|stuck|missing|getting billed|being charged|charging)"),
    ("waiting", 0.5, r"\b(?:waiting|waited|wait|queued?|queuing|stuck|sat on hold)\b[^.!?]{0,25}\b" + _DUR),
    ("waiting", 0.4, r"\b(?:for|over|nearly|almost|after|than)\s+" + _DUR),
    ("waiting", 0.6, r"\b(?:day|week|hour)\s+(?:\d+|two|three|four|five|six|seven)\b[^.!?]{0,30}\b(?:without|no)\b"),
    ("waiting", 0.6, r"\b\d+\s*(?:days?|weeks?|hours?)\s+(?:without|with no|and no|and still)\b"),
    ("waiting", 0.6, r"\bpending (?:for|since|after)\b|\bstill pending\b|\bstuck (?:at|in|on)\b"),
    ("waiting", 0.55, r"\bhow (?:much )?longer\b|\bhow long (?:do|does|will|should|must|is)\b"),
    ("waiting", 0.8, r"\bwhere(?:'s| is| are|s)\s+(?:my|our|the)\s+" + _THINGS + r"\b"),
    ("waiting", 0.5, r"\b(?:when|will) (?:will|do|am|are|can|shall) (?:i|we) (?:get|receive|see|have)\b[^.!?]{0,20}\b"
                     r"(?:money|refund|order|parcel|package|bag|luggage|back)\b"),
    ("no_response", 0.8, r"\bno(?:body| one|one)\s+(?:picks? up|answers?|answered|replies|replied|responds?|responded|"
                         r"knows|knew|called|came|turned up|showed|got back|gets back|has (?:replied|answered|called|"
                         r"got back|contacted|been in touch|come)|is answering|cares|helps|helped|can (?:help|tell))"),
    ("no_response", 0.75, r"\b(?:no|zero|without an?y?)\s+(?:reply|replies|response|responses|answer|update|updates|news|"
                          r"call ?back|information|info|explanation|feedback|communication|eta|contact|apology|"
                          r"follow[- ]up|acknowledg\w*)\b"),
    ("no_response", 0.7, r"\b(?:never|not|haven'?t|hasn'?t|didn'?t|did not|has not|have not)\s+(?:been\s+)?"
                         r"(?:got|gotten|get|heard|received|had|been contacted|called|replied|responded|answered)\s+"
                         r"(?:back|a reply|a response|an answer|anything|from|any)"),
    ("no_response", 0.7, r"\b(?:been|keep|kept|keeps) trying to (?:get through|reach|contact|call|speak|talk|get hold)|"
                         r"\bcan'?t get through\b|\bpassed (?:around|between|from)\b|\bgoes? (?:round )?in circles\b|"
                         r"\bhung up on\b|\bignor(?:ed|ing|e) (?:me|us|my|our)\b|\bleft on read\b|\bchat (?:just )?clos"),
    ("repeat_contact", 0.7, r"\b(?:\d+(?:st|nd|rd|th)|second|third|fourth|fifth|sixth|nth|umpteenth|several|multiple|"
                            r"many|countless)\s+times?\b[^.!?]{0,25}\b(?:asking|asked|i'?m|i've|i have|calling|called|"
                            r"writing|contacting|chasing|emailing|this|now|in a row|reporting)\b"),
    ("repeat_contact", 0.6, r"\b(?:asked|called|emailed|chased|reported|complained|contacted you|messaged)\s+"
                            r"(?:\w+\s+)?(?:\d+|two|three|four|five|several|multiple|many|countless)\s+times\b"),
    # delays and cancellations
    ("delay", 0.75, r"\b(?:delayed|delays|postponed|rescheduled|running late|overdue|behind schedule)\b"),
    ("delay", 0.55, r"\bdelay\b"),
    ("delay", 0.75, r"\b(?:\d+|an?|one|two|three|four|five|ten|twenty|thirty|forty)\s*(?:mins?|minutes?|hours?|hrs?|"
                    r"days?|weeks?)\s+(?:late|delay(?:ed)?|overdue|behind)\b"),
    ("delay", 0.6, r"\b(?:late again|always late|late every|still late|arrived late|came late|is late|are late|was late|"
                   r"were late|so late|very late|late delivery|late train|late flight)\b"),
    ("delay", 0.6, r"\b(?:was|were|is) (?:due|supposed to arrive|meant to arrive|expected)\b"),
    ("cancellation", 0.7, r"\b(?:flight|train|bus|trip|service|order|booking|reservation|appointment|ride|delivery|"
                          r"journey|event|show|class|connection)s?\s+(?:\w+\s+)?(?:got |has been |was |were |been |is )?"
                          r"cancell?ed\b"),
    ("cancellation", 0.5, r"\bcancell?ed (?:again|last minute|without|with no|on (?:me|us))\b|\blast[- ]minute cancell?ation"),
    ("cancellation", 0.35, r"\bcancell?ed\b|\bcancell?ation\b"),
    # lost, damaged, wrong
    ("lost_damaged", 0.45, r"\b(?:lost|misplaced|missing|stolen)\b"),
    ("lost_damaged", 0.8, r"\b(?:lost|misplaced|stole|stolen|lose|losing)\s+(?:my|our|the|all (?:my|our|of my|the))\s+"
                          r"(?:\w+\s+)?(?:bag|bags|luggage|suitcase|parcel|package|order|booking|reservation|files?|"
                          r"data|documents?|photos?|money|card|delivery|item|items|stuff|account|progress|work)\b|"
                          r"\b(?:item|items|part|parts|piece|pieces|bag|parcel|package|order)s?\s+(?:is |are |was |were )?"
                          r"missing\b|\bmissing (?:item|items|part|parts|parcel|package|order|bag|refund|payment)s?\b"),
    ("lost_damaged", 0.8, r"\b(?:never|not|hasn'?t|haven'?t|didn'?t|did not|has not|still not|yet to)\s+"
                          r"(?:been\s+)?(?:arrived?|delivered|received|turned up|shown up|come|came|showed)\b"),
    ("lost_damaged", 0.8, r"\b(?:says?|said|shows?|showing|marked(?: as)?|claims?)\s+(?:it(?:'s| was| is| has been)?\s+)?"
                          r"delivered\b[^.!?]{0,30}\b(?:but|not|never|nowhere|isn'?t|wasn'?t)\b"),
    ("lost_damaged", 0.75, r"\b(?:damaged|smashed|crushed|broken|cracked|dented|torn|ripped|leaking|leaked|shattered|"
                           r"defective|faulty|scratched|mouldy|moldy|spoiled|spoilt|rotten)\b"),
    # Food and room quality words are ordinary words in other tweets: weak alone.
    ("lost_damaged", 0.45, r"\b(?:filthy|dirty|cold|stale|undercooked|raw|soggy|stained|expired|smelly|stinks)\b"),
    ("lost_damaged", 0.75, r"\bwrong\s+(?:\w+\s+)?(?:item|order|size|colou?r|one|product|address|parcel|package|bag|"
                           r"room|seat|meal|food|amount|bill|charge|name|date|model|version|thing)s?\b|"
                           r"\bgot (?:a |the )?wrong\b|\bsent (?:me )?the wrong\b|\bwrong order\b"),
    ("lost_damaged", 0.65, r"\b(?:nothing like|not (?:what|as) (?:i|we) (?:ordered|paid|booked|expected|asked)|"
                           r"not as described|not what (?:i|we) paid for|(?:item|items|part|piece|pieces)s? missing)\b"),
    ("lost_damaged", 0.5, r"\b(?:ordered|booked|paid for)\b[^.!?]{0,40}\b(?:got|received|given|sent)\b"),
    ("lost_damaged", 0.6, r"\b(?:threw|thrown|dumped|left) (?:my |the |it )?(?:parcel|package|box|delivery|it)?\s*"
                          r"(?:over|outside|in the rain|on the (?:doorstep|street|floor|ground))"),
    ("lost_damaged", 0.55, r"\bfailed (?:delivery|delivery attempt|attempt)\b|\bdidn'?t (?:even )?(?:knock|ring)\b|"
                           r"\bjust left a card\b"),
    # refunds and charges
    ("refund", 0.6, r"\brefund(?:s|ed)?\b|\breimburse\w*|\bcompensation\b|\bchargeback\b"),
    ("refund", 0.8, r"\b(?:want|need|demand|where(?:'s| is)|give me|still no|owe me|get) (?:my |our )?(?:money|"
                    r"cash) back\b|\bwhere(?:'s| is) (?:my|our) money\b|\bmoney back\b"),
    ("charge", 0.85, r"\b(?:charged|billed|debited|deducted|taken|took|paid)\s+(?:me\s+|us\s+|it\s+)?(?:twice|two times|"
                     r"double|three times|again|3 times|2 times)\b|\bdouble[- ]?(?:charged|billed|charge|payment)\b|"
                     r"\bovercharg\w*|\bcharged (?:me|us) (?:for|£|\$|€|\d)"),
    ("charge", 0.75, r"\b(?:still|kept|keep|keeps|continue\w*) (?:being |getting )?(?:charg|bill|debit|tak)\w*"),
    ("charge", 0.75, r"\b(?:took|taken|take|taking|deducted|debited|charged)\b[^.!?]{0,25}\b(?:money|payment|"
                     r"£\s?\d|\$\s?\d|€\s?\d|\d+\s?(?:£|\$|€))[^.!?]{0,40}\b(?:but|without|never|didn'?t|not|"
                     r"cancell?ed|again|twice)\b"),
    ("charge", 0.7, r"\b(?:cancell?ed|returned|unsubscribed|closed)\b[^.!?]{0,50}\b(?:still|again)\b[^.!?]{0,25}"
                    r"\b(?:charg|bill|took|taking|debit|money|payment)\w*"),
    ("charge", 0.65, r"\b(?:hidden|extra|surprise|unexpected|late|cancell?ation|admin|service|ridiculous|huge|random)\s+"
                     r"(?:fees?|charges?)\b|\b(?:fee|charge)s? on my\b|\bwhy (?:is there|was i|am i|have i been)\b"
                     r"[^.!?]{0,30}\b(?:fee|charge|charged|billed)"),
    ("charge", 0.6, r"\b(?:price|prices|bill|premium|renewal|fare|tariff|rent)s?\s+(?:\w+\s+)?(?:rise|hike|increase|"
                    r"doubled|tripled|went up|gone up|has gone up|increased|jumped|going up)\b|\bthird price rise\b|"
                    r"\bup \d+\s?%|\b(?:surge|peak) pric"),
    ("charge", 0.55, r"\bunauthori[sz]ed\b|\b(?:payment|transaction|charge|debit)s?\b[^.!?]{0,30}\bi (?:didn'?t|did "
                     r"not|never) (?:make|authori[sz]e|recogni[sz]e|order)\b"),
    ("charge", 0.45, r"\b(?:took|taken|takes?) (?:my |the |our )?(?:money|payment)\b"),
    ("charge", 0.35, r"\bcharged\b"),
    ("charge", 0.6, r"\b(?:card|payment|transaction)s? (?:was |were |is |got |keeps? (?:getting |being )?)?(?:declined|"
                    r"rejected|refused)\b"),
    ("charge", 0.85, r"\b(?:charged|billed|debited|deducted|taken|took)\b[^.!?]{0,30}\b(?:\d+|two|three|four|several|"
                     r"multiple) times\b"),
    ("charge", 0.7, r"\bpaid (?:for|extra for)\b[^.!?]{0,40}\b(?:still|not|no|never|but|locked|missing|can'?t|didn'?t)\b"),
    # outages and errors
    ("outage", 0.75, r"\b(?:outage|power cut|blackout|black out|offline)\b"),
    ("outage", 0.75, r"\b(?:is|are|it'?s|its|site|app|website|service|network|internet|broadband|wifi|system|server|"
                     r"servers|line|everything|still|been|went)\s+down\b|\bdown (?:again|since|for|all)\b"),
    ("outage", 0.75, r"\b(?:no|without|lost|losing|lose|zero|dropped|keeps? losing)\s+(?:\w+\s+)?" + _SERVICES + r"\b"),
    ("outage", 0.8, r"\b" + _CANT + r"\s+(?:even\s+|seem to\s+)?" + _ACTIONS + r"\b"),
    ("outage", 0.75, r"\b(?:won'?t|doesn'?t|does not|will not|didn'?t|wouldn'?t) (?:even )?let (?:me|us)\b"),
    ("outage", 0.75, r"\bnot (?:working|loading|connecting|responding|opening|updating|syncing|charging|"
                     r"turning on|going through)\b|\b(?:stopped|stops|quit) (?:working|loading|responding)\b|"
                     r"\b(?:is|are|it'?s|still) (?:not working|broken|dead|unusable|unwatchable)\b|\bunwatchable\b|"
                     r"\bunusable\b|\bdoesn'?t (?:even )?work\b|\bdon'?t work\b"),
    ("outage", 0.75, r"\bkeeps? (?:on )?(?:crashing|freezing|dropping|buffering|disconnecting|logging (?:me|us) out|"
                     r"failing|cutting out|restarting|declining|rejecting|timing out|kicking me|going off|stopping|"
                     r"saying|asking|telling)\b|\bevery (?:few|\d+) (?:seconds|minutes|mins|hours)\b"),
    ("outage", 0.6, r"\b(?:crash|crashes|crashed|crashing|freezes|freezing|frozen|buffering|lagging|laggy|glitch\w*|"
                    r"bugg(?:y|ed)|out of sync|disconnect\w*)\b"),
    ("outage", 0.55, r"\b(?:broke|broken)\s+(?:sync|the|my|our|login|everything)\b|\bmessed up\b|\bbroke\b"),
    ("error", 0.7, r"(?<!trial and )\berror\b|\b(?:code|status) \d{2,4}\b|\b50[0234]\b|\b40[134]\b"),
    ("error", 0.55, r"\bfail(?:s|ed|ing|ure)?\b"),
    ("error", 0.45, r"\bbugs?\b|\bissues? with\b|\bproblems? with\b|\bnot (?:fixed|resolved|sorted)\b"),
    # account and security
    ("account_security", 0.85, r"\bhack(?:ed|er|ers)?\b|\bcompromised\b|\bphish\w*|\bscamm?(?:ed|er|ers)?\b|\bfraud\w*|"
                               r"\bidentity theft\b|\bsomeone (?:logged|accessed|used|made|took|got into)\b|"
                               r"\bnew device\b|\bsuspicious\b"),
    ("account_security", 0.75, r"\blocked out\b|\baccount (?:has been |was |got |is )?(?:locked|suspended|blocked|disabled|"
                               r"closed|frozen|deactivated|restricted|banned)\b|\b(?:suspended|blocked|froze|frozen)\s+"
                               r"(?:my|our)\s+(?:account|card)\b|\bunblock\b"),
    ("account_security", 0.6, r"\b(?:password|passcode|pin|otp|2fa|verification code|reset link|security code|login code)"
                              r"\b[^.!?]{0,40}\b(?:wrong|doesn'?t|not|never|won'?t|isn'?t|invalid|expired|didn'?t|fail)\w*"),
    # staff
    ("rude_staff", 0.8, r"\b(?:rude|rudely|impolite|unprofessional|disrespectful|condescending|patroni[sz]ing|arrogant|"
                        r"aggressive|abusive|dismissive)\b|\bshouted at\b|\byelled at\b|\blaughed at (?:me|us)\b|"
                        r"\bswore at\b|\bbad attitude\b"),
    ("rude_staff", 0.65, r"\b" + _STAFF + r"\s+(?:was|were|is|are)\s+(?:so |very |really |extremely |just |completely )?"
                         r"(?:unhelpful|useless|clueless|awful|horrible|terrible|incompetent|lazy|hopeless|ignorant)\b"),
    ("rude_staff", 0.6, r"\b(?:on (?:his|her|their) phone|took the long way|felt unsafe|unsafe)\b"),
    # broken promises
    ("broken_promise", 0.7, r"\byou (?:promised|assured|guaranteed)\b|\bpromised\b"),
    ("broken_promise", 0.45, r"\byou (?:said|told (?:me|us)|confirmed)\b|\bwas told\b|\bwere told\b"),
    ("broken_promise", 0.7, r"\b(?:never|didn'?t|did not|has not|hasn'?t|haven'?t)\s+(?:even\s+)?(?:show(?:ed)?|turn(?:ed)? up|"
                            r"show(?:ed)? up|came|come|call(?:ed)?(?: back)?|happen(?:ed)?|arrive[sd]?|deliver(?:ed)?)\b|"
                            r"\bno[- ]show\b|\bnever came\b"),
    ("broken_promise", 0.4, r"\bsupposed to\b|\bmeant to (?:be|arrive|come|call)\b|\bshould have (?:been|arrived)\b"),
    ("broken_promise", 0.3, r"\b(?:again|every (?:single )?time|every (?:day|morning|week|night)|yet again|once again|"
                            r"as usual|same (?:issue|problem)|still)\b"),
    # dissatisfaction, tone
    ("dissatisfaction", 0.8, r"\b(?:not|never|isn'?t|wasn'?t|aren'?t|weren'?t)\s+(?:very\s+|too\s+|at all\s+)?"
                             r"(?:happy|impressed|pleased|satisfied|good enough|acceptable|ok|okay|fun|great|cool|"
                             r"amused|helpful|fair|right|on)\b|\bunhappy\b|\bdissatisfied\b"),
    ("dissatisfaction", 0.7, r"\b(?:disappoint\w*|frustrat\w*|annoy\w*|furious|livid|fuming|outrag\w*|disgust\w*|"
                             r"appall\w*|unacceptable|ridiculous|disgrace\w*|shambles|pathetic|shocking|"
                             r"useless|rubbish|terrible|awful|horrible|horrendous|worst|atrocious|abysmal|"
                             r"nightmare|scam|rip[- ]?off|ripped off|sick of|fed up|had enough|enough is enough|"
                             r"sort it out|sort this out|do better|kidding me|seriously\?|"
                             r"(?:is|are|what) a (?:total |complete |bloody |fucking )?joke|joke of a|overcrowded|"
                             r"packed like sardines|no seats?\b)"),
    ("escalation", 0.8, r"\b(?:ombudsman|regulator|trading standards|small claims|legal action|my lawyer|solicitor|"
                        r"(?:report|reporting) (?:you|this) to|chargeback|consumer (?:rights|protection)|bbb)\b"),
    ("dissatisfaction", 0.45, r"\bfix (?:it|this)\b"),
    # Sad and angry emoticons: language-neutral, so they also help route texts no model reads.
    ("dissatisfaction", 0.45, r"(?:^|\s)(?::-?\(+|:'\(|:-?/(?!/)|>:\(|d:)(?=\s|$)"),
    ("dissatisfaction", 0.4, r"\bdespite (?:sending|having|calling|paying|asking|telling|being|emailing|submitting)\b"),
    ("dissatisfaction", 0.75, r"\bnever (?:using|use|buying|buy|flying|fly|ordering|order|booking|book|shopping|"
                              r"going back|coming back|again|recommend)\b|\b(?:closing|cancell?ing|leaving|switching|moving)\b[^.!?]{0,15}"
                              r"\b(?:account|provider|bank|you)\b|\bwaste of (?:time|money)\b"),
    ("dissatisfaction", 0.4, r"\b(?:sucks?|crap|shit|shite|wtf|ffs|smh|ugh+|argh+|meh|lame)\b|"
                             r"\bany chance of (?:actually|ever)\b|\bkind of ridiculous\b"),
    # "Why is there a fee?", "how come ...": often a complaint, but also plain curiosity.
    ("dissatisfaction", 0.4, r"\bwhy (?:does|do|is|are|can'?t|won'?t|isn'?t|doesn'?t|did|would|have|has)\b|"
                             r"\bhow (?:is it|come|can (?:you|it|a))\b"),
    ("sarcasm", 0.8, r"\bthanks? (?:you )?(?:for|4) (?:nothing|nada|the (?:\d+|\w+)[- ](?:hour|day|week|minute|min)s?\b)|"
                     r"\bthanks a lot\b(?! for (?:the|your) (?:help|support))|\bthanks for the\s+(?:\w+\s+){0,2}"
                     r"(?:delay|cancell?ation|wait|help(?:lessness)?!?\s*not|charge|bill|fee)\b"),
    ("sarcasm", 0.7, r"\b(?:great|perfect|brilliant|lovely|awesome|fantastic|wonderful|nice|amazing|love|loving|"
                     r"superb|excellent|cheers|well done|good job|thanks|thank you|just what i needed|outdid yourselves|"
                     r"really made my|made my day)\b[^.!?]{0,50}\b" + _PROBLEM_WORD + r"\b"),
    # Praise that closes a message about a problem: "Flight delayed again, no update. Great job."
    ("sarcasm", 0.7, r"\b" + _PROBLEM_WORD + r"\b[^!?]{0,120}[.,;:]\s*(?:great|perfect|brilliant|lovely|awesome|"
                     r"fantastic|wonderful|nice|well done|good job|great job|great work|nice one|bravo|thanks|"
                     r"thank you|thank u|thx|thnx|thanx|tks|ty|cheers)(?: job| work| service| one)?\W*$"),
    ("sarcasm", 0.6, r"\b(?:outdid yourselves|yeah right|just perfect|what a surprise|big surprise)\b|/s\b|"
                     r"\blovely\.\s*$"),
    # Weak alone ("oh great, sunshine"): they tip the balance only with other evidence.
    ("sarcasm", 0.35, r"\b(?:oh great|oh good|shocker|who knew|as always|as usual)\b|👏"),
    # counter-evidence: praise and problems that are already solved
    # Not after a negation or a condition: "if this isn't fixed", "when will it be sorted", "get it resolved".
    ("resolved", -0.85, r"(?<!not )(?<!n't )(?<!nt )(?<!never )(?<!be )(?<!get )(?<!get it )(?<!get this )(?<!getting )(?<!until )(?<!til )"
                        r"\b(?:sorted|fixed|resolved|solved|back (?:up|online|on|working)|working again|all good now|"
                        r"all sorted|sorted now|up and running)\b(?![^.!?]{0,20}\b(?:not|never|isn'?t|still)\b)"),
    ("resolved", -0.8, r"\b(?:got|received|just got|finally got) (?:my |the |our )?(?:refund|money back|replacement|"
                       r"parcel|package|order)\b|\brefund (?:came|arrived|received|processed|went through)\b"),
    ("resolved", -0.8, r"\bno (?:complaints?|problems?|issues?|worries|dramas?)\b(?![^.!?]{0,10}\b(?:with|at)\b)|"
                       r"\bnever (?:had|have) (?:a|any|an)(?: single)? (?:problem|issue|complaint)s?\b|"
                       r"\bno issues since\b|\bnot (?:even )?mad\b|\bworth the wait\b|\bbut worth\b"),
    ("praise", -0.6, r"\b(?:thank you|thanks|thx|ty|cheers|kudos|shout ?out|appreciate\w*|grateful|legend|"
                     r"well done|great job|good job|top notch|5 stars|five stars|impressed|above and beyond)\b"),
    ("praise", -0.4, r"\b(?:love|loved|loving|great|amazing|awesome|brilliant|excellent|fantastic|wonderful|lovely|"
                     r"perfect|best|smooth|superb|fast|quick|helpful|friendly|nice|can'?t wait|so good|fire)\b|[😍🥰❤️💕🙌🔥🤩😊]"),
)

#: Emoji customers use to complain (a set test: a character class of emoji is slow in ``re``).
_ANGRY_EMOJI = frozenset("😡🤬👎🙄😤😠💩🤮😒😞😩😫🤦😣😖😑")
# The same set as a character class: ``re`` scans for it in C (a set test walks the text in Python objects);
# the first match is the first such character of the text.
_ANGRY_EMOJI_SEARCH = re.compile("[" + "".join(sorted(_ANGRY_EMOJI)) + "]").search

_QUESTION_START = re.compile(
    r"^(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|excuse me|quick question|question)?[,!.:\s]*"
    r"(?:(?:how|what|when|where|which|who|why)(?:'s|'re)?\s+(?:do|does|did|is|are|was|were|can|could|will|would|"
    r"should|shall|have|has|much|many|long|often|time|day|kind|type|happened|happens|about)\b|"
    r"(?:can|could|do|does|did|is|are|will|would|should|may|have|has|any)\s+(?:i|you|we|it|there|my|your|u|ya|they|"
    r"he|she|this|that|anyone|someone|somebody|one|update|news)\b|is there\b|are there\b|anyone know\b)"
)
# Handles and "RT" only where no word character precedes them. The lookbehind comes after the first
# character ("@(?<!\w@)" is "(?<!\w)@"): every alternative then starts with a literal, and ``re`` skips
# to the next "h", "w", "@", "R" or "&" instead of trying a lookbehind at every position (3x faster).
_HANDLE_OR_LINK = re.compile(r"https?://\S+|www\.\S+|@(?<!\w@)\w+|R(?<!\wR)T\b:?|&amp;")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u201c": '"', "\u201d": '"'})
# The same mapping as replacements: one-character keys, values that are not keys (no order effects).
_APOSTROPHE_PAIRS = tuple((key if isinstance(key, str) else chr(key), value) for key, value in _APOSTROPHES.items())


_RARITY = {ch: rank for rank, ch in enumerate("etaoinsrhldcumfpgwybvkxjqz")}


_WORD_CHAR = re.compile(r"\w")
#: The three characters from each start of a word (a word character after a non-word one, or first).
_WORD_START_PIECES = re.compile(r"\b(?=(\w[\s\S][\s\S]))")


def _word_start_key(string: str, at_word_start: bool) -> str | None:
    """Three characters of ``string`` that, wherever ``string`` occurs in a match, start a word of the
    text (so _WORD_START_PIECES finds them), the rarest-looking; None if there are none."""
    keys = [
        string[j:j + 3]
        for j in range(len(string) - 2)
        if _WORD_CHAR.match(string[j]) and (j > 0 and not _WORD_CHAR.match(string[j - 1]) or j == 0 and at_word_start)
    ]
    return max(keys, key=lambda g: sum(_RARITY.get(ch, 13) for ch in g)) if keys else None


def _compile(rules: Iterable[tuple[str, float, str]]) -> tuple[Rule, ...]:
    # No IGNORECASE: texts are lower-cased by normalise(), and IGNORECASE makes ``re`` several times slower.
    rules_: list[Rule] = []
    for intent, weight, pattern in rules:
        parts = _gate_parts(pattern)
        gate = tuple(sorted({string for string, _ in parts})) if parts else None
        at_word_start = {string for string, start in parts or () if start}
        # A string found both at and not at a word start (two branches) counts as not: the safe side.
        at_word_start -= {string for string, start in parts or () if not start}
        rules_.append(Rule(intent, weight, re.compile(pattern), gate, tuple(sorted(at_word_start))))
    return tuple(rules_)


def _only_non_word(op: object, arg: object) -> bool:
    """Whether the parsed item consumes a non-word character (and nothing else)."""
    from re import _constants as c  # type: ignore[attr-defined]

    if op is c.LITERAL:
        return not _WORD_CHAR.match(chr(arg))  # type: ignore[arg-type]
    if op is c.IN:
        return all(
            (member is c.LITERAL and not _WORD_CHAR.match(chr(value)))
            or (member is c.CATEGORY and value in (c.CATEGORY_SPACE, c.CATEGORY_NOT_WORD))
            for member, value in arg  # type: ignore[union-attr]
        )
    return False


def _gate_parts(pattern: str) -> set[tuple[str, bool]] | None:
    r"""Literal strings one of which must occur in any text the pattern matches, or None; each with
    whether, in every match, it starts at the start of a word of the text.

    Derived from the parsed pattern (a literal run, or every branch of an alternation, or the
    body of a repeat of at least one, or a class of plain characters), so it is exact, not a
    guess; the rarest-looking choice (fewest, longest strings) wins. A run starts a word when it
    starts with a word character right after ``\b``, ``^``, or something that consumes only
    non-word characters (a space, ``\s+``, "my "). Uses ``re``'s parser, which is private: if it
    changes, rules simply run without gates.
    """
    try:
        from re import _constants as c, _parser as parser  # type: ignore[attr-defined]

        def required(items: Iterable[tuple[object, object]], start: bool
                     ) -> tuple[set[tuple[str, bool]] | None, bool]:
            """(the rarest requirement of the sequence, whether what follows it starts a word) when a word
            character after what precedes it (``start``) would start a word."""
            run, run_start, options = "", False, []
            for op, arg in items:
                if op is c.LITERAL:
                    if not run:
                        run_start = start
                    run += chr(arg)  # type: ignore[arg-type]
                    start = _only_non_word(op, arg)
                    continue
                if run:
                    options.append({(run, run_start)})
                    run = ""
                if op is c.AT:  # zero width: what held still holds
                    if arg in (c.AT_BOUNDARY, c.AT_BEGINNING, c.AT_BEGINNING_STRING):
                        start = True
                    elif arg is c.AT_NON_BOUNDARY:
                        start = False
                    continue
                if op in (c.ASSERT, c.ASSERT_NOT):  # zero width
                    continue
                if op is c.SUBPATTERN:
                    found, start = required(arg[-1], start)  # type: ignore[index]
                    options.append(found)
                elif op is c.BRANCH:
                    branches = [required(branch, start) for branch in arg[1]]  # type: ignore[index]
                    options.append(None if any(b is None for b, _ in branches)
                                   else set().union(*(b for b, _ in branches)))  # type: ignore[arg-type]
                    start = all(end for _, end in branches)
                elif op in (c.MAX_REPEAT, c.MIN_REPEAT):
                    low, _, body = arg  # type: ignore[misc]
                    if low >= 1:
                        options.append(required(body, start)[0])  # the first repetition
                    # After the last repetition (any start: the weakest assumption), or after none.
                    end = required(body, False)[1]
                    start = end if low >= 1 else start and end
                elif op is c.IN and all(member is c.LITERAL for member, _ in arg):  # type: ignore[union-attr]
                    # A class of plain characters ("[😍🔥]"): one of them occurs.
                    options.append({(chr(value), start) for _, value in arg})  # type: ignore[union-attr]
                    start = _only_non_word(op, arg)
                else:
                    start = _only_non_word(op, arg)
            if run:
                options.append({(run, run_start)})
            usable = [o for o in options if o]
            best = min(usable, key=lambda o: sum(len(x) ** -3 for x in {s for s, _ in o})) if usable else None
            return best, start

        found = required(list(parser.parse(pattern)), False)[0]
    except Exception:  # pragma: no cover - depends on the interpreter's private modules
        log.debug("no gate for pattern %.40s", pattern)
        return None
    return found or None


def normalise(text: str) -> str:
    """Lower case, plain apostrophes, handles and links removed, spaces collapsed."""
    # str.translate walks every character; the six it maps are rare.
    for key, value in _APOSTROPHE_PAIRS:
        if key in text:
            text = text.replace(key, value)
    text = _HANDLE_OR_LINK.sub(" ", text)
    return " ".join(text.split()).lower()


def fold(text: str) -> str:
    """Latin diacritics removed ("nestrādā" -> "nestrada"): customers often type without them."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    out = []
    for ch in decomposed:
        if unicodedata.combining(ch) and out and out[-1].isascii():
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


# --- per-language lexicons -------------------------------------------------------------------------------


_STEM_KEY = 2

_TOKEN = re.compile(r"[\w\u0300-\u036f\u0900-\u0dff]+(?:'[\w\u0300-\u036f\u0900-\u0dff]+)*")


def tokens(text: str) -> list[str]:
    """Words of ``text`` (Indic vowel signs and inner apostrophes stay in the word: "d'internet")."""
    return _TOKEN.findall(text)


@dataclass(frozen=True)
class Entry:
    words: tuple[str, ...]  # the term's words, without the "*" marks
    intent: str
    weight: float
    prefix: bool  # the last word may continue ("kavē*")
    suffix: bool  # the first word may start earlier ("*chelewa")


@dataclass
class Lexicon:
    """Terms of one language with their intent and weight, indexed by word for speed.

    Matching works on words, not one big regular expression: Python's ``re`` tries every
    alternative at every position, which made a few hundred terms cost milliseconds a text.
    """

    lang: str
    fold: bool
    entries: tuple[Entry, ...]
    _exact: dict[str, Entry] = field(default_factory=dict, repr=False)
    _prefix: dict[str, Entry] = field(default_factory=dict, repr=False)
    _suffix: dict[str, Entry] = field(default_factory=dict, repr=False)
    _infix: list[Entry] = field(default_factory=list, repr=False)
    _phrases: dict[str, list[Entry]] = field(default_factory=dict, repr=False)
    # Stems by their first (last) two characters: a word is checked against a handful, not all.
    _prefix_index: dict[str, list[tuple[str, Entry]]] = field(default_factory=dict, repr=False)
    _suffix_index: dict[str, list[tuple[str, Entry]]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for entry in self.entries:
            if len(entry.words) > 1:
                self._phrases.setdefault(entry.words[0], []).append(entry)
            elif entry.prefix and entry.suffix:
                self._infix.append(entry)
            elif entry.prefix:
                self._prefix.setdefault(entry.words[0], entry)
            elif entry.suffix:
                self._suffix.setdefault(entry.words[0], entry)
            else:
                self._exact.setdefault(entry.words[0], entry)
        for phrases in self._phrases.values():
            phrases.sort(key=lambda e: len(e.words), reverse=True)
        for stem, entry in sorted(self._prefix.items(), key=lambda kv: -len(kv[0])):
            self._prefix_index.setdefault(stem[:_STEM_KEY], []).append((stem, entry))
        for stem, entry in sorted(self._suffix.items(), key=lambda kv: -len(kv[0])):
            self._suffix_index.setdefault(stem[-_STEM_KEY:], []).append((stem, entry))

    def find(self, text: str) -> list[tuple[str, float, str]]:
        """(intent, weight, matched words) for each term in ``text`` (already normalised).

        A phrase hides the words inside it: "paldies par neko" is not also "paldies".
        """
        words = tokens(fold(text) if self.fold else text)
        found: list[tuple[str, float, str]] = []
        covered: set[int] = set()
        for index, word in enumerate(words):
            for entry in self._phrases.get(word, ()):
                size = len(entry.words)
                window = words[index:index + size]
                if len(window) == size and window[1:-1] == list(entry.words[1:-1]) and (
                    window[-1] == entry.words[-1] or (entry.prefix and window[-1].startswith(entry.words[-1]))
                ):
                    found.append((entry.intent, entry.weight, " ".join(window)))
                    covered.update(range(index, index + size))
                    break
        for index, word in enumerate(words):
            if index in covered:
                continue
            entry = self._exact.get(word)
            if entry is None:
                for stem, candidate in self._prefix_index.get(word[:_STEM_KEY], ()):
                    if word.startswith(stem):
                        entry = candidate
                        break
            if entry is None:
                for stem, candidate in self._suffix_index.get(word[-_STEM_KEY:], ()):
                    if word.endswith(stem):
                        entry = candidate
                        break
            if entry is None:
                entry = next((e for e in self._infix if e.words[0] in word), None)
            if entry is not None:
                found.append((entry.intent, entry.weight, word))
        return found


def _entry(term: str, intent: str, weight: float) -> Entry | None:
    core = term.strip("*").strip()
    if not core:
        return None
    words = tuple(tokens(core))
    if not words:
        return None
    return Entry(words, intent, float(weight), prefix=term.endswith("*"), suffix=term.startswith("*"))


def build_lexicon(lang: str, intents: Mapping[str, Mapping[str, float]], fold_diacritics: bool) -> Lexicon:
    entries: list[Entry] = []
    seen: set[str] = set()
    for intent, terms in intents.items():
        for raw, weight in terms.items():
            term = " ".join(raw.lower().split())
            if fold_diacritics:
                term = fold(term)
            if term in seen:
                continue
            entry = _entry(term, intent, weight)
            if entry is not None:
                seen.add(term)
                entries.append(entry)
    return Lexicon(lang, fold_diacritics, tuple(entries))


def _read_lexicon_file(path: Path) -> tuple[str, bool, dict[str, dict[str, float]], tuple[str, ...]]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    meta = data.get("meta", {})
    lang = str(meta.get("language") or path.stem)
    terms = {str(intent): {str(t): float(w) for t, w in table.items()} for intent, table in data.get("terms", {}).items()}
    return lang, bool(meta.get("fold_diacritics", True)), terms, tuple(meta.get("also_for", ()))


def load_lexicons(
    extra: Mapping[str, Mapping[str, float]] | None = None,
    directory: Path = LEXICON_DIR,
) -> dict[str, Lexicon]:
    """The shipped lexicons plus ``extra`` ({lang: {term: weight}}, e.g. from config), by language code.

    Extra terms go to the intent "complaint" (a negative weight: counter-evidence, "praise").
    A language in ``extra`` without a shipped file gets a lexicon of its own.
    """
    tables: dict[str, dict[str, dict[str, float]]] = {}
    folding: dict[str, bool] = {}
    aliases: dict[str, str] = {}
    for path in sorted(directory.glob("*.toml")):
        lang, fold_diacritics, terms, also_for = _read_lexicon_file(path)
        tables[lang] = terms
        folding[lang] = fold_diacritics
        for alias in also_for:
            aliases[alias] = lang
    for lang, terms in (extra or {}).items():
        lang = lang.lower()
        table = tables.setdefault(aliases.get(lang, lang), {})
        for term, weight in terms.items():
            # The deployment knows its customers: its weight replaces a shipped one for the same term.
            for shipped in table.values():
                shipped.pop(term, None)
            table.setdefault("complaint" if weight >= 0 else "praise", {})[term] = float(weight)
    lexicons = {lang: build_lexicon(lang, table, folding.get(lang, True)) for lang, table in tables.items()}
    for alias, lang in aliases.items():
        if lang in lexicons and alias not in tables:
            lexicons[alias] = lexicons[lang]
    return lexicons


# --- the analyser ----------------------------------------------------------------------------------------


class ComplaintAnalyser:
    """English rules plus per-language lexicons. Build once (compiles ~150 patterns); share between threads."""

    def __init__(
        self,
        extra_lexicon: Mapping[str, Mapping[str, float]] | None = None,
        threshold: float = COMPLAINT_THRESHOLD,
    ) -> None:
        self.rules = _compile(ENGLISH_RULES)
        self._index_rules()
        self.lexicons = load_lexicons(extra_lexicon)
        self.threshold = threshold
        # Unknown language: every lexicon is tried (one alternation of all terms, folded).
        self._any = build_lexicon(
            "und",
            _merge_tables(lex for code, lex in self.lexicons.items() if code != "en"),
            fold_diacritics=True,
        )

    def _index_rules(self) -> None:
        """Index self.rules' gates (called again after replacing the rules, e.g. in tests)."""
        # Which rules can match a text, in three cheap steps before any regular expression runs: the
        # three characters at each start of a word of the text select gate strings by a piece of them
        # that starts a word wherever they occur (_word_start_key), a substring test keeps those that
        # occur, and only the rules gated by them are searched (plus ungated rules, and rules of gate
        # strings with no such piece, tested as substrings on every text). Rule sets are bit masks
        # (bit i: rule i): collecting candidates is integer ORs, and they come out in rule order.
        self._ungated = tuple(i for i, rule in enumerate(self.rules) if rule.gate is None)
        self._ungated_mask = sum(1 << index for index in self._ungated)
        by_key: dict[str, dict[str, int]] = {}
        direct: dict[str, int] = {}
        for index, rule in enumerate(self.rules):
            at_word_start = set(rule.gate_word_start)
            for string in rule.gate or ():
                key = _word_start_key(string, string in at_word_start)
                table = direct if key is None else by_key.setdefault(key, {})
                table[string] = table.get(string, 0) | 1 << index
        self._key_set = set(by_key)
        self._key_masks = {key: tuple(sorted(strings.items())) for key, strings in sorted(by_key.items())}
        self._direct_ascii = tuple((s, mask) for s, mask in sorted(direct.items()) if s.isascii())
        self._direct_other = tuple((s, mask) for s, mask in sorted(direct.items()) if not s.isascii())

    def analyse(self, text: str, lang: str = "und") -> Signals:
        norm = normalise(text)
        if not norm:
            return Signals(False, 0.0, (), False, (), lang)
        evidence: list[tuple[str, float, str]] = []
        mask = self._ungated_mask
        key_masks = self._key_masks
        for key in self._key_set.intersection(_WORD_START_PIECES.findall(norm)):
            for string, rules in key_masks[key]:
                if string in norm:
                    mask |= rules
        for string, rules in self._direct_ascii:
            if string in norm:
                mask |= rules
        if not norm.isascii():  # the other strings cannot occur in ASCII text
            for string, rules in self._direct_other:
                if string in norm:
                    mask |= rules
        rules_ = self.rules
        while mask:
            low = mask & -mask
            mask ^= low
            rule = rules_[low.bit_length() - 1]
            match = rule.pattern.search(norm)
            if match:
                evidence.append((rule.intent, rule.weight, match.group(0).strip()))
        if not norm.isascii():
            angry = _ANGRY_EMOJI_SEARCH(norm)
            if angry is not None:
                evidence.append(("dissatisfaction", 0.6, angry.group()))
        lexicon = self.lexicons.get(lang)
        if lexicon is not None:
            evidence.extend(lexicon.find(norm))
        elif lang == "und":
            evidence.extend(self._any.find(norm))
        score, intents, matched = _combine(evidence)
        question = "?" in norm or "¿" in norm or bool(_QUESTION_START.match(norm))
        if question and "question" not in intents:
            intents = intents + ("question",)
        return Signals(
            complaint=score >= self.threshold,
            score=round(score, 3),
            intents=intents,
            question_to_brand=question,
            matched=matched,
            lang=lang,
            lexicon=lexicon is not None and lang != "en",
        )


def _merge_tables(lexicons: Iterable[Lexicon]) -> dict[str, dict[str, float]]:
    merged: dict[str, dict[str, float]] = {}
    for lex in lexicons:
        for entry in lex.entries:
            term = ("*" if entry.suffix else "") + " ".join(entry.words) + ("*" if entry.prefix else "")
            # Folding only touches marks on ASCII letters, so non-Latin terms pass through unchanged.
            merged.setdefault(entry.intent, {}).setdefault(term, entry.weight)
    return merged


def _combine(evidence: list[tuple[str, float, str]]) -> tuple[float, tuple[str, ...], tuple[str, ...]]:
    """Noisy-OR of the evidence for a complaint, damped by the evidence against.

    Praise only damps when no sarcasm was found: "thanks for nothing" is not thanks.
    """
    best: dict[str, tuple[float, str]] = {}
    for intent, weight, text in evidence:
        # One piece of evidence per intent: five "delay" words are not five times the evidence.
        if intent not in best or abs(weight) > abs(best[intent][0]):
            best[intent] = (weight, text)
    sarcastic = "sarcasm" in best
    keep_against = {i for i in best if best[i][0] < 0 and not (sarcastic and i == "praise")}
    for_ = 1.0
    against = 1.0
    for intent, (weight, _) in best.items():
        if weight > 0:
            for_ *= 1.0 - min(weight, 0.99)
        elif intent in keep_against:
            against *= 1.0 - min(-weight, 0.99)
    score = (1.0 - for_) * against
    order = [i for i, _, _ in evidence]
    intents = tuple(i for i in dict.fromkeys(order) if best[i][0] > 0 or i in keep_against)
    matched = tuple(f"{i}: '{best[i][1]}'" for i in intents)
    return score, intents, matched


@lru_cache(maxsize=1)
def default_analyser() -> ComplaintAnalyser:
    return ComplaintAnalyser()


def analyse(text: str, lang: str = "und") -> Signals:
    """Customer-service signals of ``text`` with the shipped patterns and lexicons."""
    return default_analyser().analyse(text, lang)
