import { Command } from "commander";
export const benchOfflineCommand = new Command("offline").description("TODO");
