"""The English complaint rules: (intent, weight, pattern) for waiting, delays, refunds, outages, rude staff...

Patterns run on ``complaints.normalise``d text (lower case, plain apostrophes, no handles or links), so
they need no IGNORECASE. A weight above 0 is evidence of a complaint, below 0 evidence against.
"""

from __future__ import annotations

_DUR = (
    r"(?:\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|several|many|few|couple of)\s*\+?\s*"
    r"(?:hours?|hrs?|h|days?|weeks?|wks?|months?|mins?|minutes?)"
)
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
    (
        "waiting",
        0.8,
        r"\bstill (?:waiting|no\b|not\b|nothing|haven'?t|hasn'?t|hadn'?t|can'?t|cannot|unable|"
        r"without|broken|down|hungry|pending|stuck|missing|getting billed|being charged|charging)",
    ),
    ("waiting", 0.5, r"\b(?:waiting|waited|wait|queued?|queuing|stuck|sat on hold)\b[^.!?]{0,25}\b" + _DUR),
    ("waiting", 0.4, r"\b(?:for|over|nearly|almost|after|than)\s+" + _DUR),
    ("waiting", 0.6, r"\b(?:day|week|hour)\s+(?:\d+|two|three|four|five|six|seven)\b[^.!?]{0,30}\b(?:without|no)\b"),
    ("waiting", 0.6, r"\b\d+\s*(?:days?|weeks?|hours?)\s+(?:without|with no|and no|and still)\b"),
    ("waiting", 0.6, r"\bpending (?:for|since|after)\b|\bstill pending\b|\bstuck (?:at|in|on)\b"),
    ("waiting", 0.55, r"\bhow (?:much )?longer\b|\bhow long (?:do|does|will|should|must|is)\b"),
    ("waiting", 0.8, r"\bwhere(?:'s| is| are|s)\s+(?:my|our|the)\s+" + _THINGS + r"\b"),
    (
        "waiting",
        0.5,
        r"\b(?:when|will) (?:will|do|am|are|can|shall) (?:i|we) (?:get|receive|see|have)\b[^.!?]{0,20}\b"
        r"(?:money|refund|order|parcel|package|bag|luggage|back)\b",
    ),
    (
        "no_response",
        0.8,
        r"\bno(?:body| one|one)\s+(?:picks? up|answers?|answered|replies|replied|responds?|responded|"
        r"knows|knew|called|came|turned up|showed|got back|gets back|has (?:replied|answered|called|"
        r"got back|contacted|been in touch|come)|is answering|cares|helps|helped|can (?:help|tell))",
    ),
    (
        "no_response",
        0.75,
        r"\b(?:no|zero|without an?y?)\s+(?:reply|replies|response|responses|answer|update|updates|news|"
        r"call ?back|information|info|explanation|feedback|communication|eta|contact|apology|"
        r"follow[- ]up|acknowledg\w*)\b",
    ),
    (
        "no_response",
        0.7,
        r"\b(?:never|not|haven'?t|hasn'?t|didn'?t|did not|has not|have not)\s+(?:been\s+)?"
        r"(?:got|gotten|get|heard|received|had|been contacted|called|replied|responded|answered)\s+"
        r"(?:back|a reply|a response|an answer|anything|from|any)",
    ),
    (
        "no_response",
        0.7,
        r"\b(?:been|keep|kept|keeps) trying to (?:get through|reach|contact|call|speak|talk|get hold)|"
        r"\bcan'?t get through\b|\bpassed (?:around|between|from)\b|\bgoes? (?:round )?in circles\b|"
        r"\bhung up on\b|\bignor(?:ed|ing|e) (?:me|us|my|our)\b|\bleft on read\b|\bchat (?:just )?clos",
    ),
    (
        "repeat_contact",
        0.7,
        r"\b(?:\d+(?:st|nd|rd|th)|second|third|fourth|fifth|sixth|nth|umpteenth|several|multiple|"
        r"many|countless)\s+times?\b[^.!?]{0,25}\b(?:asking|asked|i'?m|i've|i have|calling|called|"
        r"writing|contacting|chasing|emailing|this|now|in a row|reporting)\b",
    ),
    (
        "repeat_contact",
        0.6,
        r"\b(?:asked|called|emailed|chased|reported|complained|contacted you|messaged)\s+"
        r"(?:\w+\s+)?(?:\d+|two|three|four|five|several|multiple|many|countless)\s+times\b",
    ),
    # delays and cancellations
    ("delay", 0.75, r"\b(?:delayed|delays|postponed|rescheduled|running late|overdue|behind schedule)\b"),
    ("delay", 0.55, r"\bdelay\b"),
    (
        "delay",
        0.75,
        r"\b(?:\d+|an?|one|two|three|four|five|ten|twenty|thirty|forty)\s*(?:mins?|minutes?|hours?|hrs?|"
        r"days?|weeks?)\s+(?:late|delay(?:ed)?|overdue|behind)\b",
    ),
    (
        "delay",
        0.6,
        r"\b(?:late again|always late|late every|still late|arrived late|came late|is late|are late|was late|"
        r"were late|so late|very late|late delivery|late train|late flight)\b",
    ),
    ("delay", 0.6, r"\b(?:was|were|is) (?:due|supposed to arrive|meant to arrive|expected)\b"),
    (
        "cancellation",
        0.7,
        r"\b(?:flight|train|bus|trip|service|order|booking|reservation|appointment|ride|delivery|"
        r"journey|event|show|class|connection)s?\s+(?:\w+\s+)?(?:got |has been |was |were |been |is )?"
        r"cancell?ed\b",
    ),
    (
        "cancellation",
        0.5,
        r"\bcancell?ed (?:again|last minute|without|with no|on (?:me|us))\b|\blast[- ]minute cancell?ation",
    ),
    ("cancellation", 0.35, r"\bcancell?ed\b|\bcancell?ation\b"),
    # lost, damaged, wrong
    ("lost_damaged", 0.45, r"\b(?:lost|misplaced|missing|stolen)\b"),
    (
        "lost_damaged",
        0.8,
        r"\b(?:lost|misplaced|stole|stolen|lose|losing)\s+(?:my|our|the|all (?:my|our|of my|the))\s+"
        r"(?:\w+\s+)?(?:bag|bags|luggage|suitcase|parcel|package|order|booking|reservation|files?|"
        r"data|documents?|photos?|money|card|delivery|item|items|stuff|account|progress|work)\b|"
        r"\b(?:item|items|part|parts|piece|pieces|bag|parcel|package|order)s?\s+(?:is |are |was |were )?"
        r"missing\b|\bmissing (?:item|items|part|parts|parcel|package|order|bag|refund|payment)s?\b",
    ),
    (
        "lost_damaged",
        0.8,
        r"\b(?:never|not|hasn'?t|haven'?t|didn'?t|did not|has not|still not|yet to)\s+"
        r"(?:been\s+)?(?:arrived?|delivered|received|turned up|shown up|come|came|showed)\b",
    ),
    (
        "lost_damaged",
        0.8,
        r"\b(?:says?|said|shows?|showing|marked(?: as)?|claims?)\s+(?:it(?:'s| was| is| has been)?\s+)?"
        r"delivered\b[^.!?]{0,30}\b(?:but|not|never|nowhere|isn'?t|wasn'?t)\b",
    ),
    (
        "lost_damaged",
        0.75,
        r"\b(?:damaged|smashed|crushed|broken|cracked|dented|torn|ripped|leaking|leaked|shattered|"
        r"defective|faulty|scratched|mouldy|moldy|spoiled|spoilt|rotten)\b",
    ),
    # Food and room quality words are ordinary words in other tweets: weak alone.
    ("lost_damaged", 0.45, r"\b(?:filthy|dirty|cold|stale|undercooked|raw|soggy|stained|expired|smelly|stinks)\b"),
    (
        "lost_damaged",
        0.75,
        r"\bwrong\s+(?:\w+\s+)?(?:item|order|size|colou?r|one|product|address|parcel|package|bag|"
        r"room|seat|meal|food|amount|bill|charge|name|date|model|version|thing)s?\b|"
        r"\bgot (?:a |the )?wrong\b|\bsent (?:me )?the wrong\b|\bwrong order\b",
    ),
    (
        "lost_damaged",
        0.65,
        r"\b(?:nothing like|not (?:what|as) (?:i|we) (?:ordered|paid|booked|expected|asked)|"
        r"not as described|not what (?:i|we) paid for|(?:item|items|part|piece|pieces)s? missing)\b",
    ),
    ("lost_damaged", 0.5, r"\b(?:ordered|booked|paid for)\b[^.!?]{0,40}\b(?:got|received|given|sent)\b"),
    (
        "lost_damaged",
        0.6,
        r"\b(?:threw|thrown|dumped|left) (?:my |the |it )?(?:parcel|package|box|delivery|it)?\s*"
        r"(?:over|outside|in the rain|on the (?:doorstep|street|floor|ground))",
    ),
    (
        "lost_damaged",
        0.55,
        r"\bfailed (?:delivery|delivery attempt|attempt)\b|\bdidn'?t (?:even )?(?:knock|ring)\b|"
        r"\bjust left a card\b",
    ),
    # refunds and charges
    ("refund", 0.6, r"\brefund(?:s|ed)?\b|\breimburse\w*|\bcompensation\b|\bchargeback\b"),
    (
        "refund",
        0.8,
        r"\b(?:want|need|demand|where(?:'s| is)|give me|still no|owe me|get) (?:my |our )?(?:money|"
        r"cash) back\b|\bwhere(?:'s| is) (?:my|our) money\b|\bmoney back\b",
    ),
    (
        "charge",
        0.85,
        r"\b(?:charged|billed|debited|deducted|taken|took|paid)\s+(?:me\s+|us\s+|it\s+)?(?:twice|two times|"
        r"double|three times|again|3 times|2 times)\b|\bdouble[- ]?(?:charged|billed|charge|payment)\b|"
        r"\bovercharg\w*|\bcharged (?:me|us) (?:for|£|\$|€|\d)",
    ),
    ("charge", 0.75, r"\b(?:still|kept|keep|keeps|continue\w*) (?:being |getting )?(?:charg|bill|debit|tak)\w*"),
    (
        "charge",
        0.75,
        r"\b(?:took|taken|take|taking|deducted|debited|charged)\b[^.!?]{0,25}\b(?:money|payment|"
        r"£\s?\d|\$\s?\d|€\s?\d|\d+\s?(?:£|\$|€))[^.!?]{0,40}\b(?:but|without|never|didn'?t|not|"
        r"cancell?ed|again|twice)\b",
    ),
    (
        "charge",
        0.7,
        r"\b(?:cancell?ed|returned|unsubscribed|closed)\b[^.!?]{0,50}\b(?:still|again)\b[^.!?]{0,25}"
        r"\b(?:charg|bill|took|taking|debit|money|payment)\w*",
    ),
    (
        "charge",
        0.65,
        r"\b(?:hidden|extra|surprise|unexpected|late|cancell?ation|admin|service|ridiculous|huge|random)\s+"
        r"(?:fees?|charges?)\b|\b(?:fee|charge)s? on my\b|\bwhy (?:is there|was i|am i|have i been)\b"
        r"[^.!?]{0,30}\b(?:fee|charge|charged|billed)",
    ),
    (
        "charge",
        0.6,
        r"\b(?:price|prices|bill|premium|renewal|fare|tariff|rent)s?\s+(?:\w+\s+)?(?:rise|hike|increase|"
        r"doubled|tripled|went up|gone up|has gone up|increased|jumped|going up)\b|\bthird price rise\b|"
        r"\bup \d+\s?%|\b(?:surge|peak) pric",
    ),
    (
        "charge",
        0.55,
        r"\bunauthori[sz]ed\b|\b(?:payment|transaction|charge|debit)s?\b[^.!?]{0,30}\bi (?:didn'?t|did "
        r"not|never) (?:make|authori[sz]e|recogni[sz]e|order)\b",
    ),
    ("charge", 0.45, r"\b(?:took|taken|takes?) (?:my |the |our )?(?:money|payment)\b"),
    ("charge", 0.35, r"\bcharged\b"),
    (
        "charge",
        0.6,
        r"\b(?:card|payment|transaction)s? (?:was |were |is |got |keeps? (?:getting |being )?)?(?:declined|"
        r"rejected|refused)\b",
    ),
    (
        "charge",
        0.85,
        r"\b(?:charged|billed|debited|deducted|taken|took)\b[^.!?]{0,30}\b(?:\d+|two|three|four|several|"
        r"multiple) times\b",
    ),
    (
        "charge",
        0.7,
        r"\bpaid (?:for|extra for)\b[^.!?]{0,40}\b(?:still|not|no|never|but|locked|missing|can'?t|didn'?t)\b",
    ),
    # outages and errors
    ("outage", 0.75, r"\b(?:outage|power cut|blackout|black out|offline)\b"),
    (
        "outage",
        0.75,
        r"\b(?:is|are|it'?s|its|site|app|website|service|network|internet|broadband|wifi|system|server|"
        r"servers|line|everything|still|been|went)\s+down\b|\bdown (?:again|since|for|all)\b",
    ),
    ("outage", 0.75, r"\b(?:no|without|lost|losing|lose|zero|dropped|keeps? losing)\s+(?:\w+\s+)?" + _SERVICES + r"\b"),
    ("outage", 0.8, r"\b" + _CANT + r"\s+(?:even\s+|seem to\s+)?" + _ACTIONS + r"\b"),
    ("outage", 0.75, r"\b(?:won'?t|doesn'?t|does not|will not|didn'?t|wouldn'?t) (?:even )?let (?:me|us)\b"),
    (
        "outage",
        0.75,
        r"\bnot (?:working|loading|connecting|responding|opening|updating|syncing|charging|"
        r"turning on|going through)\b|\b(?:stopped|stops|quit) (?:working|loading|responding)\b|"
        r"\b(?:is|are|it'?s|still) (?:not working|broken|dead|unusable|unwatchable)\b|\bunwatchable\b|"
        r"\bunusable\b|\bdoesn'?t (?:even )?work\b|\bdon'?t work\b",
    ),
    (
        "outage",
        0.75,
        r"\bkeeps? (?:on )?(?:crashing|freezing|dropping|buffering|disconnecting|logging (?:me|us) out|"
        r"failing|cutting out|restarting|declining|rejecting|timing out|kicking me|going off|stopping|"
        r"saying|asking|telling)\b|\bevery (?:few|\d+) (?:seconds|minutes|mins|hours)\b",
    ),
    (
        "outage",
        0.6,
        r"\b(?:crash|crashes|crashed|crashing|freezes|freezing|frozen|buffering|lagging|laggy|glitch\w*|"
        r"bugg(?:y|ed)|out of sync|disconnect\w*)\b",
    ),
    ("outage", 0.55, r"\b(?:broke|broken)\s+(?:sync|the|my|our|login|everything)\b|\bmessed up\b|\bbroke\b"),
    ("error", 0.7, r"(?<!trial and )\berror\b|\b(?:code|status) \d{2,4}\b|\b50[0234]\b|\b40[134]\b"),
    ("error", 0.55, r"\bfail(?:s|ed|ing|ure)?\b"),
    ("error", 0.45, r"\bbugs?\b|\bissues? with\b|\bproblems? with\b|\bnot (?:fixed|resolved|sorted)\b"),
    # account and security
    (
        "account_security",
        0.85,
        r"\bhack(?:ed|er|ers)?\b|\bcompromised\b|\bphish\w*|\bscamm?(?:ed|er|ers)?\b|\bfraud\w*|"
        r"\bidentity theft\b|\bsomeone (?:logged|accessed|used|made|took|got into)\b|"
        r"\bnew device\b|\bsuspicious\b",
    ),
    (
        "account_security",
        0.75,
        r"\blocked out\b|\baccount (?:has been |was |got |is )?(?:locked|suspended|blocked|disabled|"
        r"closed|frozen|deactivated|restricted|banned)\b|\b(?:suspended|blocked|froze|frozen)\s+"
        r"(?:my|our)\s+(?:account|card)\b|\bunblock\b",
    ),
    (
        "account_security",
        0.6,
        r"\b(?:password|passcode|pin|otp|2fa|verification code|reset link|security code|login code)"
        r"\b[^.!?]{0,40}\b(?:wrong|doesn'?t|not|never|won'?t|isn'?t|invalid|expired|didn'?t|fail)\w*",
    ),
    # staff
    (
        "rude_staff",
        0.8,
        r"\b(?:rude|rudely|impolite|unprofessional|disrespectful|condescending|patroni[sz]ing|arrogant|"
        r"aggressive|abusive|dismissive)\b|\bshouted at\b|\byelled at\b|\blaughed at (?:me|us)\b|"
        r"\bswore at\b|\bbad attitude\b",
    ),
    (
        "rude_staff",
        0.65,
        r"\b" + _STAFF + r"\s+(?:was|were|is|are)\s+(?:so |very |really |extremely |just |completely )?"
        r"(?:unhelpful|useless|clueless|awful|horrible|terrible|incompetent|lazy|hopeless|ignorant)\b",
    ),
    ("rude_staff", 0.6, r"\b(?:on (?:his|her|their) phone|took the long way|felt unsafe|unsafe)\b"),
    # broken promises
    ("broken_promise", 0.7, r"\byou (?:promised|assured|guaranteed)\b|\bpromised\b"),
    ("broken_promise", 0.45, r"\byou (?:said|told (?:me|us)|confirmed)\b|\bwas told\b|\bwere told\b"),
    (
        "broken_promise",
        0.7,
        r"\b(?:never|didn'?t|did not|has not|hasn'?t|haven'?t)\s+(?:even\s+)?(?:show(?:ed)?|turn(?:ed)? up|"
        r"show(?:ed)? up|came|come|call(?:ed)?(?: back)?|happen(?:ed)?|arrive[sd]?|deliver(?:ed)?)\b|"
        r"\bno[- ]show\b|\bnever came\b",
    ),
    ("broken_promise", 0.4, r"\bsupposed to\b|\bmeant to (?:be|arrive|come|call)\b|\bshould have (?:been|arrived)\b"),
    (
        "broken_promise",
        0.3,
        r"\b(?:again|every (?:single )?time|every (?:day|morning|week|night)|yet again|once again|"
        r"as usual|same (?:issue|problem)|still)\b",
    ),
    # dissatisfaction, tone
    (
        "dissatisfaction",
        0.8,
        r"\b(?:not|never|isn'?t|wasn'?t|aren'?t|weren'?t)\s+(?:very\s+|too\s+|at all\s+)?"
        r"(?:happy|impressed|pleased|satisfied|good enough|acceptable|ok|okay|fun|great|cool|"
        r"amused|helpful|fair|right|on)\b|\bunhappy\b|\bdissatisfied\b",
    ),
    (
        "dissatisfaction",
        0.7,
        r"\b(?:disappoint\w*|frustrat\w*|annoy\w*|furious|livid|fuming|outrag\w*|disgust\w*|"
        r"appall\w*|unacceptable|ridiculous|disgrace\w*|shambles|pathetic|shocking|"
        r"useless|rubbish|terrible|awful|horrible|horrendous|worst|atrocious|abysmal|"
        r"nightmare|scam|rip[- ]?off|ripped off|sick of|fed up|had enough|enough is enough|"
        r"sort it out|sort this out|do better|kidding me|seriously\?|"
        r"(?:is|are|what) a (?:total |complete |bloody |fucking )?joke|joke of a|overcrowded|"
        r"packed like sardines|no seats?\b)",
    ),
    (
        "escalation",
        0.8,
        r"\b(?:ombudsman|regulator|trading standards|small claims|legal action|my lawyer|solicitor|"
        r"(?:report|reporting) (?:you|this) to|chargeback|consumer (?:rights|protection)|bbb)\b",
    ),
    ("dissatisfaction", 0.45, r"\bfix (?:it|this)\b"),
    # Sad and angry emoticons: language-neutral, so they also help route texts no model reads.
    ("dissatisfaction", 0.45, r"(?:^|\s)(?::-?\(+|:'\(|:-?/(?!/)|>:\(|d:)(?=\s|$)"),
    ("dissatisfaction", 0.4, r"\bdespite (?:sending|having|calling|paying|asking|telling|being|emailing|submitting)\b"),
    (
        "dissatisfaction",
        0.75,
        r"\bnever (?:using|use|buying|buy|flying|fly|ordering|order|booking|book|shopping|"
        r"going back|coming back|again|recommend)\b|\b(?:closing|cancell?ing|leaving|switching|moving)\b[^.!?]{0,15}"
        r"\b(?:account|provider|bank|you)\b|\bwaste of (?:time|money)\b",
    ),
    (
        "dissatisfaction",
        0.4,
        r"\b(?:sucks?|crap|shit|shite|wtf|ffs|smh|ugh+|argh+|meh|lame)\b|"
        r"\bany chance of (?:actually|ever)\b|\bkind of ridiculous\b",
    ),
    # "Why is there a fee?", "how come ...": often a complaint, but also plain curiosity.
    (
        "dissatisfaction",
        0.4,
        r"\bwhy (?:does|do|is|are|can'?t|won'?t|isn'?t|doesn'?t|did|would|have|has)\b|"
        r"\bhow (?:is it|come|can (?:you|it|a))\b",
    ),
    (
        "sarcasm",
        0.8,
        r"\bthanks? (?:you )?(?:for|4) (?:nothing|nada|the (?:\d+|\w+)[- ](?:hour|day|week|minute|min)s?\b)|"
        r"\bthanks a lot\b(?! for (?:the|your) (?:help|support))|\bthanks for the\s+(?:\w+\s+){0,2}"
        r"(?:delay|cancell?ation|wait|help(?:lessness)?!?\s*not|charge|bill|fee)\b",
    ),
    (
        "sarcasm",
        0.7,
        r"\b(?:great|perfect|brilliant|lovely|awesome|fantastic|wonderful|nice|amazing|love|loving|"
        r"superb|excellent|cheers|well done|good job|thanks|thank you|just what i needed|outdid yourselves|"
        r"really made my|made my day)\b[^.!?]{0,50}\b" + _PROBLEM_WORD + r"\b",
    ),
    # Praise that closes a message about a problem: "Flight delayed again, no update. Great job."
    (
        "sarcasm",
        0.7,
        r"\b" + _PROBLEM_WORD + r"\b[^!?]{0,120}[.,;:]\s*(?:great|perfect|brilliant|lovely|awesome|"
        r"fantastic|wonderful|nice|well done|good job|great job|great work|nice one|bravo|thanks|"
        r"thank you|thank u|thx|thnx|thanx|tks|ty|cheers)(?: job| work| service| one)?\W*$",
    ),
    (
        "sarcasm",
        0.6,
        r"\b(?:outdid yourselves|yeah right|just perfect|what a surprise|big surprise)\b|/s\b|"
        r"\blovely\.\s*$",
    ),
    # Weak alone ("oh great, sunshine"): they tip the balance only with other evidence.
    ("sarcasm", 0.35, r"\b(?:oh great|oh good|shocker|who knew|as always|as usual)\b|👏"),
    # counter-evidence: praise and problems that are already solved
    # Not after a negation or a condition: "if this isn't fixed", "when will it be sorted", "get it resolved".
    (
        "resolved",
        -0.85,
        r"(?<!not )(?<!n't )(?<!nt )(?<!never )(?<!be )(?<!get )(?<!get it )(?<!get this )(?<!getting )"
        r"(?<!until )(?<!til )"
        r"\b(?:sorted|fixed|resolved|solved|back (?:up|online|on|working)|working again|all good now|"
        r"all sorted|sorted now|up and running)\b(?![^.!?]{0,20}\b(?:not|never|isn'?t|still)\b)",
    ),
    (
        "resolved",
        -0.8,
        r"\b(?:got|received|just got|finally got) (?:my |the |our )?(?:refund|money back|replacement|"
        r"parcel|package|order)\b|\brefund (?:came|arrived|received|processed|went through)\b",
    ),
    (
        "resolved",
        -0.8,
        r"\bno (?:complaints?|problems?|issues?|worries|dramas?)\b(?![^.!?]{0,10}\b(?:with|at)\b)|"
        r"\bnever (?:had|have) (?:a|any|an)(?: single)? (?:problem|issue|complaint)s?\b|"
        r"\bno issues since\b|\bnot (?:even )?mad\b|\bworth the wait\b|\bbut worth\b",
    ),
    (
        "praise",
        -0.6,
        r"\b(?:thank you|thanks|thx|ty|cheers|kudos|shout ?out|appreciate\w*|grateful|legend|"
        r"well done|great job|good job|top notch|5 stars|five stars|impressed|above and beyond)\b",
    ),
    (
        "praise",
        -0.4,
        r"\b(?:love|loved|loving|great|amazing|awesome|brilliant|excellent|fantastic|wonderful|lovely|"
        r"perfect|best|smooth|superb|fast|quick|helpful|friendly|nice|can'?t wait|so good|fire)\b|[😍🥰❤️💕🙌🔥🤩😊]",
    ),
)
