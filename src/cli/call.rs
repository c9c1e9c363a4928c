//! `log-archiver call`: call any tool of any MCP server, answering the server's sampling
//! requests with the chosen LLM under the client's sampling rules, and print the result. Handy
//! for trying a server, and for checking that a server's sampling works with this client.

use std::process::ExitCode;

use clap::Args;
use rmcp::model::JsonObject;

use super::peer::ServerConnectionArgs;
use crate::client::call_tool;

#[derive(Debug, Args)]
pub struct CallArgs {
    /// The tool's name.
    #[arg(value_name = "TOOL")]
    pub tool: String,

    /// The tool's arguments as one JSON object.
    #[arg(long, value_name = "JSON", value_parser = parse_arguments)]
    pub args: Option<JsonObject>,

    /// One argument, KEY=VALUE (repeatable); VALUE is read as JSON when it is valid JSON
    /// (numbers, true, objects...), else as a string.
    #[arg(long = "arg", value_name = "KEY=VALUE", value_parser = parse_argument)]
    pub arguments: Vec<(String, serde_json::Value)>,

    /// Print the whole tool result as JSON instead of its text.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub connection: ServerConnectionArgs,
}

fn parse_arguments(text: &str) -> Result<JsonObject, String> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(object)) => Ok(object),
        Ok(_) => Err("the arguments must be a JSON object, such as '{\"prompt\": \"hi\"}'".into()),
        Err(error) => Err(format!("not valid JSON: {error}")),
    }
}

fn parse_argument(text: &str) -> Result<(String, serde_json::Value), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}' is not KEY=VALUE"))?;
    let value = serde_json::from_str(value)
        .unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
    Ok((key.to_string(), value))
}

pub async fn run(args: CallArgs) -> anyhow::Result<ExitCode> {
    let mut arguments = args.args.clone().unwrap_or_default();
    arguments.extend(args.arguments.iter().cloned());
    let session = args.connection.connect().await?;
    let outcome = call_tool(&session, &args.tool, arguments).await;
    let _ = session.cancel().await;
    let result = outcome
        .map_err(|error| anyhow::anyhow!("the call to tool '{}' failed: {error}", args.tool))?;
    let failed = result.is_error.unwrap_or(false);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        for block in &result.content {
            match block.as_text() {
                Some(text) if failed => eprintln!("error: {}", text.text),
                Some(text) => println!("{}", text.text),
                None => println!("{}", serde_json::to_string(block)?),
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_parse_as_json_or_strings() {
        assert_eq!(
            parse_argument("maxTokens=50").unwrap(),
            ("maxTokens".into(), serde_json::json!(50))
        );
        assert_eq!(
            parse_argument("prompt=hello there").unwrap(),
            ("prompt".into(), serde_json::json!("hello there"))
        );
        assert!(parse_argument("novalue").is_err());
        assert!(parse_arguments("[1]").is_err());
        assert_eq!(parse_arguments("{\"a\": 1}").unwrap()["a"], 1);
    }
}
