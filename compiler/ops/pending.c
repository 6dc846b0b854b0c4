/* pending.c: the rules of the ops whose family has not moved to its file yet (their logic is still in the
 * generic passes). */
#include "dlc.h"

const OpRule rule_INPUT = {0};
const OpRule rule_PARAM = {0};
const OpRule rule_CONST = {0};
const OpRule rule_STATE = {0};
