import { s } from "@app/shared/strings";
import { a } from "@app/alpha";
import { sub } from "@scope/pkg/sub";
import { other } from "@scope/pkg/other";
import cfg from "config";
import { fb } from "thing";
import { root } from "rooted";
import { ext } from "lodash";
export const all = [s, a, sub, other, cfg, fb, root, ext];
